-- events_records: one row per non-blank line of the batch's log file pieces (a large file comes
-- in pieces cut at line ends, each with its first line's number), or per line or file the
-- reader could not decode, with its JSON type (NULL: not one valid JSON value). CRLF and CR end
-- lines like LF; blank lines are not records; a BOM opening a line (files concatenated) is
-- dropped. parse/parsed reads it; a piece with a line that is not one JSON value is then cut
-- again as a stream of values (tasks/json_stream.py: pretty-printed or back-to-back objects).
with files as (
    -- the replaces copy the whole file: only files with a CR or a BOM need them
    select
        source_file,
        case
            when contains(content, chr(13)) or contains(content, chr(65279)) then replace(
                replace(replace(content, chr(13) || chr(10), chr(10)), chr(13), chr(10)),
                chr(10) || chr(65279), chr(10)
            )
            else content
        end as content,
        read_error,
        line_number,
        coalesce(first_line, 1) as first_line
    from lake_batch
),

split as materialized (
    select source_file, first_line, string_split(content, chr(10)) as file_lines
    from files
    where read_error is null
),

lines as (
    select
        source_file,
        first_line,
        unnest(range(first_line, first_line + len(file_lines))) as line_number,
        unnest(file_lines) as raw_text
    from split
),

record_lines as materialized (
    -- materialized: the parse below then runs on every thread, not only the one that split
    select source_file, first_line, line_number, raw_text, cast(null as varchar) as read_error
    from lines
    where
        case
            -- trim copies the line: only lines opening with a space or tab can be blank
            when raw_text = '' then false
            when ascii(raw_text) not in (32, 9) then true
            else trim(raw_text, ' ' || chr(9)) <> ''
        end
    union all
    select source_file, first_line, line_number, content, read_error
    from files
    where read_error is not null
),

typed as (
    select *, case when read_error is null then json_doc_type(raw_text) end as doc_type
    from record_lines
)

select * from typed

-- songs_records: one row per song file of the batch that holds anything but white space (a
-- song file is one song object; an empty file holds no record), or per file the reader could
-- not decode, with its JSON type (NULL: not one valid JSON value). A file that is not one JSON
-- value is cut again as a stream of values once parsed (tasks/json_stream.py: two songs in one
-- file).
with files as (
    select source_file, content, read_error from lake_batch
),

typed as (
    select
        source_file,
        cast(1 as bigint) as first_line,  -- the type every path gives it (FILE_SCHEMA)
        cast(null as bigint) as line_number,
        content as raw_text,
        read_error,
        case when read_error is null then json_doc_type(content) end as doc_type
    from files
    where read_error is not null or trim(content, ' ' || chr(9) || chr(10) || chr(13)) <> ''
)

select * from typed

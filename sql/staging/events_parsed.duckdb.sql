-- parsed (events): one row per non-blank line of the batch's log file pieces (a large file comes
-- in pieces cut at line ends, each with its first line's number), or per line or file the
-- reader could not decode, with the reason it is rejected (NULL = accepted). CRLF and CR end
-- lines like LF; blank lines are not records; a BOM opening a line (files concatenated) is
-- dropped. A line over 4 MB (Redshift COPY's limit for one JSON object) is not parsed; a
-- trailing comma (`{"a": 1,}`), which DuckDB's parser tolerates, is malformed JSON: the check
-- blanks out string literals first, so a `,}` inside a value does not count.
create or replace temp table parsed as
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
        unnest(range(first_line, first_line + len(file_lines))) as line_number,
        unnest(file_lines) as raw_text
    from split
),

records as materialized (
    -- materialized: the parse below then runs on every thread, not only the one that split
    select source_file, line_number, raw_text, cast(null as varchar) as read_error
    from lines
    where
        case
            -- trim copies the line: only lines opening with a space or tab can be blank
            when raw_text = '' then false
            when ascii(raw_text) not in (32, 9) then true
            else trim(raw_text, ' ' || chr(9)) <> ''
        end
    union all
    select source_file, line_number, content, read_error
    from files
    where read_error is not null
),

documents as (
    select
        *,
        case
            -- one WHEN per step: DuckDB evaluates both sides of an AND, a CASE only what it needs
            when read_error is not null or strlen(raw_text) > 4194304 then null
            when not json_valid(raw_text) then null
            -- a valid document opening with `{` is an object: json_type only for the rest
            when ascii(raw_text) = 123 and not regexp_matches(raw_text, ',\s*[}\]]') then 'OBJECT'
            when not regexp_matches(raw_text, ',\s*[}\]]') then json_type(raw_text)
            when regexp_matches(
                regexp_replace(raw_text, '"(?:[^"\\]|\\.)*"', '""', 'g'), ',\s*[}\]]'
            ) then null
            else json_type(raw_text)
        end as doc_type
    from records
),

fields as (
    -- one parse per line: every field as a JSON value (NULL when the key is absent), checked and
    -- cast from there (json_extract with a list of paths: 0.77-0.92 of json_transform's
    -- time, bench/parse_fields.py)
    select
        *,
        case
            when doc_type = 'OBJECT' then json_extract(raw_text, [
                '$."artist"', '$."auth"', '$."firstName"', '$."gender"',
                '$."itemInSession"', '$."lastName"', '$."length"', '$."level"',
                '$."location"', '$."method"', '$."page"', '$."registration"',
                '$."sessionId"', '$."song"', '$."status"', '$."ts"',
                '$."userAgent"', '$."userId"'
            ])
        end as v
    from documents
),

named as (
    select
        * exclude (v),
        {
        'artist': v[1],
        'auth': v[2],
        'firstName': v[3],
        'gender': v[4],
        'itemInSession': v[5],
        'lastName': v[6],
        'length': v[7],
        'level': v[8],
        'location': v[9],
        'method': v[10],
        'page': v[11],
        'registration': v[12],
        'sessionId': v[13],
        'song': v[14],
        'status': v[15],
        'ts': v[16],
        'userAgent': v[17],
        'userId': v[18]
        } as j
    from fields
),

final as (
    select
        source_file,
        line_number,
        raw_text,
        j,
        coalesce(
            read_error,
            case when strlen(raw_text) > 4194304 then 'record over 4 MB' end,
            case when doc_type is null then 'malformed JSON' end,
            case when doc_type <> 'OBJECT' then 'not a JSON object' end,
            json_field_problem(j."ts", 'ts', ['UBIGINT', 'BIGINT'], true),
            json_field_problem(j."userId", 'userId', ['VARCHAR', 'UBIGINT', 'BIGINT'], true),
            json_field_problem(j."sessionId", 'sessionId', ['UBIGINT', 'BIGINT'], true),
            json_field_problem(j."itemInSession", 'itemInSession', ['UBIGINT', 'BIGINT'], true),
            json_field_problem(j."page", 'page', ['VARCHAR'], true),
            json_field_problem(j."level", 'level', ['VARCHAR'], true),
            case when json_text(j."level") not in ('free', 'paid') then 'level is not free or paid' end,
            json_field_problem(j."song", 'song', ['VARCHAR'], json_text(j."page") = 'NextSong'),
            json_field_problem(j."artist", 'artist', ['VARCHAR'], json_text(j."page") = 'NextSong'),
            json_field_problem(j."length", 'length', ['UBIGINT', 'BIGINT', 'DOUBLE'], json_text(j."page") = 'NextSong'),
            json_field_problem(j."firstName", 'firstName', ['VARCHAR'], false),
            json_field_problem(j."lastName", 'lastName', ['VARCHAR'], false),
            json_field_problem(j."gender", 'gender', ['VARCHAR'], false),
            json_field_problem(j."location", 'location', ['VARCHAR'], false),
            json_field_problem(j."userAgent", 'userAgent', ['VARCHAR'], false),
            json_field_problem(j."auth", 'auth', ['VARCHAR'], false),
            json_field_problem(j."method", 'method', ['VARCHAR'], false),
            json_field_problem(j."registration", 'registration', ['UBIGINT', 'BIGINT', 'DOUBLE'], false),
            json_field_problem(j."status", 'status', ['UBIGINT', 'BIGINT'], false),
            case when try_cast(json_text(j."ts") as bigint) not between 0 and 4102444799999
                then 'ts is not between 1970 and 2100' end,
            case when try_cast(json_text(j."ts") as bigint) is null then 'ts out of range' end,
            case when try_cast(json_text(j."sessionId") as bigint) is null then 'sessionId out of range' end,
            case when try_cast(json_text(j."itemInSession") as integer) is null
                then 'itemInSession out of range' end,
            case when try_cast(coalesce(json_text(j."status"), '0') as integer) is null
                then 'status out of range' end,
            case when not isfinite(try_cast(coalesce(json_text(j."length"), '0') as double))
                or try_cast(json_text(j."length") as double) < 0
                then 'length is not a non-negative number' end,
            case when not isfinite(try_cast(coalesce(json_text(j."registration"), '0') as double))
                then 'registration is not a finite number' end
        ) as reason
    from named
)

select * from final

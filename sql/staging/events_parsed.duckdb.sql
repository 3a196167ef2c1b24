-- parsed (events): one row per non-blank line of the batch's log files, or per line or file the
-- reader could not decode, with the reason it is rejected (NULL = accepted). CRLF and CR end
-- lines like LF; blank lines are not records.
create or replace temp table parsed as
with files as (
    select
        source_file,
        replace(replace(content, chr(13) || chr(10), chr(10)), chr(13), chr(10)) as content,
        read_error,
        line_number
    from lake_batch
),

lines as (
    select
        source_file,
        unnest(range(1, len(string_split(content, chr(10))) + 1)) as line_number,
        unnest(string_split(content, chr(10))) as raw_text
    from files
    where read_error is null
),

records as (
    select source_file, line_number, raw_text, cast(null as varchar) as read_error
    from lines
    where trim(raw_text, ' ' || chr(9)) <> ''
    union all
    select source_file, line_number, content, read_error
    from files
    where read_error is not null
),

documents as (
    select
        *,
        case when read_error is null and json_valid(raw_text) then raw_text::json end as doc
    from records
),

final as (
    select
        source_file,
        line_number,
        raw_text,
        doc,
        coalesce(
            read_error,
            case when doc is null then 'malformed JSON' end,
            case when json_type(doc) <> 'OBJECT' then 'not a JSON object' end,
            json_field_problem(doc, 'ts', ['UBIGINT', 'BIGINT'], true),
            json_field_problem(doc, 'userId', ['VARCHAR', 'UBIGINT', 'BIGINT'], true),
            json_field_problem(doc, 'sessionId', ['UBIGINT', 'BIGINT'], true),
            json_field_problem(doc, 'itemInSession', ['UBIGINT', 'BIGINT'], true),
            json_field_problem(doc, 'page', ['VARCHAR'], true),
            json_field_problem(doc, 'level', ['VARCHAR'], true),
            case when doc ->> '$.level' not in ('free', 'paid') then 'level is not free or paid' end,
            json_field_problem(doc, 'song', ['VARCHAR'], doc ->> '$.page' = 'NextSong'),
            json_field_problem(doc, 'artist', ['VARCHAR'], doc ->> '$.page' = 'NextSong'),
            json_field_problem(doc, 'length', ['UBIGINT', 'BIGINT', 'DOUBLE'], doc ->> '$.page' = 'NextSong'),
            json_field_problem(doc, 'firstName', ['VARCHAR'], false),
            json_field_problem(doc, 'lastName', ['VARCHAR'], false),
            json_field_problem(doc, 'gender', ['VARCHAR'], false),
            json_field_problem(doc, 'location', ['VARCHAR'], false),
            json_field_problem(doc, 'userAgent', ['VARCHAR'], false),
            json_field_problem(doc, 'auth', ['VARCHAR'], false),
            json_field_problem(doc, 'method', ['VARCHAR'], false),
            json_field_problem(doc, 'registration', ['UBIGINT', 'BIGINT', 'DOUBLE'], false),
            json_field_problem(doc, 'status', ['UBIGINT', 'BIGINT'], false),
            case when try_cast(doc ->> '$.ts' as bigint) not between 0 and 4102444799999
                then 'ts is not between 1970 and 2100' end,
            case when try_cast(doc ->> '$.ts' as bigint) is null then 'ts out of range' end,
            case when try_cast(doc ->> '$.sessionId' as bigint) is null then 'sessionId out of range' end,
            case when try_cast(doc ->> '$.itemInSession' as integer) is null
                then 'itemInSession out of range' end,
            case when try_cast(coalesce(doc ->> '$.status', '0') as integer) is null
                then 'status out of range' end,
            case when not isfinite(try_cast(coalesce(doc ->> '$.length', '0') as double))
                or try_cast(doc ->> '$.length' as double) < 0
                then 'length is not a non-negative number' end,
            case when not isfinite(try_cast(coalesce(doc ->> '$.registration', '0') as double))
                then 'registration is not a finite number' end
        ) as reason
    from documents
)

select * from final

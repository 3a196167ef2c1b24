-- parsed (events): one row per non-blank line of the batch's log files, or per unreadable file,
-- with the reason it is rejected (NULL = accepted). Blank lines and a trailing CR are not records.
create or replace temp table parsed as
with files as (
    select source_file, content, read_error from lake_batch
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
    select
        source_file,
        line_number,
        rtrim(raw_text, chr(13)) as raw_text,
        cast(null as varchar) as read_error
    from lines
    where trim(raw_text, ' ' || chr(9) || chr(13)) <> ''
    union all
    select source_file, cast(null as bigint), content, read_error
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
            json_field_problem(doc, 'status', ['UBIGINT', 'BIGINT'], false)
        ) as reason
    from documents
)

select * from final

-- parsed (songs): one row per song file of the batch (a file holds one song object), with the
-- reason it is rejected (NULL = accepted).
create or replace temp table parsed as
with files as (
    select source_file, content, read_error from lake_batch
),

documents as (
    select
        source_file,
        cast(null as bigint) as line_number,
        content as raw_text,
        read_error,
        case when read_error is null and json_valid(content) then content::json end as doc
    from files
),

final as (
    select
        source_file,
        line_number,
        raw_text,
        doc,
        coalesce(
            read_error,
            case when trim(raw_text, ' ' || chr(9) || chr(10) || chr(13)) = '' then 'empty file' end,
            case when doc is null then 'malformed JSON' end,
            case when json_type(doc) <> 'OBJECT' then 'not a JSON object' end,
            json_field_problem(doc, 'song_id', ['VARCHAR'], true),
            json_field_problem(doc, 'title', ['VARCHAR'], true),
            json_field_problem(doc, 'artist_id', ['VARCHAR'], true),
            json_field_problem(doc, 'artist_name', ['VARCHAR'], true),
            json_field_problem(doc, 'duration', ['UBIGINT', 'BIGINT', 'DOUBLE'], true),
            case when trim(doc ->> '$.song_id') = '' then 'song_id is empty' end,
            case when trim(doc ->> '$.artist_id') = '' then 'artist_id is empty' end,
            case when trim(doc ->> '$.artist_name') = '' then 'artist_name is empty' end,
            json_field_problem(doc, 'year', ['UBIGINT', 'BIGINT'], false),
            json_field_problem(doc, 'artist_latitude', ['UBIGINT', 'BIGINT', 'DOUBLE'], false),
            json_field_problem(doc, 'artist_longitude', ['UBIGINT', 'BIGINT', 'DOUBLE'], false),
            json_field_problem(doc, 'artist_location', ['VARCHAR'], false),
            json_field_problem(doc, 'num_songs', ['UBIGINT', 'BIGINT'], false),
            case when not isfinite(try_cast(doc ->> '$.duration' as double))
                or try_cast(doc ->> '$.duration' as double) <= 0
                then 'duration is not a positive number' end,
            case when try_cast(coalesce(doc ->> '$.year', '0') as integer) not between 0 and 2100
                or try_cast(coalesce(doc ->> '$.year', '0') as integer) is null
                then 'year is not between 0 and 2100' end,
            case when try_cast(coalesce(doc ->> '$.num_songs', '0') as integer) is null
                then 'num_songs out of range' end,
            case when try_cast(coalesce(doc ->> '$.artist_latitude', '0') as double)
                not between -90 and 90 then 'artist_latitude is not between -90 and 90' end,
            case when try_cast(coalesce(doc ->> '$.artist_longitude', '0') as double)
                not between -180 and 180 then 'artist_longitude is not between -180 and 180' end
        ) as reason
    from documents
)

select * from final

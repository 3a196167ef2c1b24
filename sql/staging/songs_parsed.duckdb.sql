-- parsed (songs): one row per song file of the batch (a file holds one song object), with the
-- reason it is rejected (NULL = accepted). As for events, a file over 4 MB is not parsed and a
-- trailing comma outside string literals (`{"a": 1,}`) is malformed JSON.
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
        case
            -- one WHEN per step: DuckDB evaluates both sides of an AND, a CASE only what it needs
            when read_error is not null or strlen(content) > 4194304 then null
            when not json_valid(content) then null
            when not regexp_matches(content, ',\s*[}\]]') then json_type(content)
            when regexp_matches(
                regexp_replace(content, '"(?:[^"\\]|\\.)*"', '""', 'g'), ',\s*[}\]]'
            ) then null
            else json_type(content)
        end as doc_type
    from files
),

fields as (
    -- one parse per file: every field as a JSON value, checked and cast from there
    select
        *,
        case when doc_type = 'OBJECT' then json_transform(raw_text, '{"num_songs": "JSON", "artist_id": "JSON", "artist_latitude": "JSON", "artist_longitude": "JSON", "artist_location": "JSON", "artist_name": "JSON", "song_id": "JSON", "title": "JSON", "duration": "JSON", "year": "JSON"}') end as j
    from documents
),

final as (
    select
        source_file,
        line_number,
        raw_text,
        j,
        coalesce(
            read_error,
            case when trim(raw_text, ' ' || chr(9) || chr(10) || chr(13)) = '' then 'empty file' end,
            case when strlen(raw_text) > 4194304 then 'record over 4 MB' end,
            case when doc_type is null then 'malformed JSON' end,
            case when doc_type <> 'OBJECT' then 'not a JSON object' end,
            json_field_problem(j."song_id", 'song_id', ['VARCHAR'], true),
            json_field_problem(j."title", 'title', ['VARCHAR'], true),
            json_field_problem(j."artist_id", 'artist_id', ['VARCHAR'], true),
            json_field_problem(j."artist_name", 'artist_name', ['VARCHAR'], true),
            json_field_problem(j."duration", 'duration', ['UBIGINT', 'BIGINT', 'DOUBLE'], true),
            case when trim(json_text(j."song_id")) = '' then 'song_id is empty' end,
            case when trim(json_text(j."artist_id")) = '' then 'artist_id is empty' end,
            case when trim(json_text(j."artist_name")) = '' then 'artist_name is empty' end,
            json_field_problem(j."year", 'year', ['UBIGINT', 'BIGINT'], false),
            json_field_problem(j."artist_latitude", 'artist_latitude', ['UBIGINT', 'BIGINT', 'DOUBLE'], false),
            json_field_problem(j."artist_longitude", 'artist_longitude', ['UBIGINT', 'BIGINT', 'DOUBLE'], false),
            json_field_problem(j."artist_location", 'artist_location', ['VARCHAR'], false),
            json_field_problem(j."num_songs", 'num_songs', ['UBIGINT', 'BIGINT'], false),
            case when not isfinite(try_cast(json_text(j."duration") as double))
                or try_cast(json_text(j."duration") as double) <= 0
                then 'duration is not a positive number' end,
            case when try_cast(coalesce(json_text(j."year"), '0') as integer) not between 0 and 2100
                or try_cast(coalesce(json_text(j."year"), '0') as integer) is null
                then 'year is not between 0 and 2100' end,
            case when try_cast(coalesce(json_text(j."num_songs"), '0') as integer) is null
                then 'num_songs out of range' end,
            case when try_cast(coalesce(json_text(j."artist_latitude"), '0') as double)
                not between -90 and 90 then 'artist_latitude is not between -90 and 90' end,
            case when try_cast(coalesce(json_text(j."artist_longitude"), '0') as double)
                not between -180 and 180 then 'artist_longitude is not between -180 and 180' end
        ) as reason
    from fields
)

select * from final

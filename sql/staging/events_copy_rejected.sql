-- quarantine_incoming: copied events that miss a required field (COPY loads a missing field as
-- NULL); the same rules the embedded warehouse applies while parsing.
insert into sparkify_staging.quarantine_incoming (kind, source_file, line_number, reason, raw_text)
select kind, source_file, line_number, reason, raw_text
from (
    select
        'events' as kind,
        :source_file as source_file,
        cast(null as integer) as line_number,
        case
            when ts is null then 'missing ts'
            when user_id is null then 'missing userId'
            when session_id is null then 'missing sessionId'
            when item_in_session is null then 'missing itemInSession'
            when page is null then 'missing page'
            when level is null then 'missing level'
            when level not in ('free', 'paid') then 'level is not free or paid'
            when page = 'NextSong' and song is null then 'missing song'
            when page = 'NextSong' and artist is null then 'missing artist'
            when page = 'NextSong' and length is null then 'missing length'
        end as reason,
        cast(null as varchar) as raw_text
    from sparkify_staging.events_copy
) as checked
where reason is not null

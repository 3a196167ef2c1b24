-- events_incoming: the copied file's events with their source file, text repaired of
-- double-encoded UTF-8, the userAgent's surrounding quotes dropped and a blank userId (only
-- spaces, tabs or line breaks) empty like a logged-out event's; rows missing a required field
-- go to quarantine instead (events_copy_rejected). COPY keeps no line number.
insert into sparkify_staging.events_incoming
select
    f_repair_mojibake(artist) as artist,
    auth,
    f_repair_mojibake(first_name) as first_name,
    nullif(gender, '') as gender,
    item_in_session,
    f_repair_mojibake(last_name) as last_name,
    length,
    level,
    f_repair_mojibake(location) as location,
    method,
    page,
    registration,
    session_id,
    f_repair_mojibake(song) as song,
    status,
    ts,
    case
        when len(user_agent) >= 2 and left(user_agent, 1) = '"' and right(user_agent, 1) = '"'
            then substring(user_agent, 2, len(user_agent) - 2)
        else user_agent
    end as user_agent,
    case
        when btrim(user_id, ' ' || chr(9) || chr(10) || chr(13)) = '' then ''
        else user_id
    end as user_id,
    :source_file as source_file,
    cast(null as integer) as line_number
from sparkify_staging.events_copy
where
    ts is not null and user_id is not null and session_id is not null
    and item_in_session is not null and page is not null and level in ('free', 'paid')
    and (page <> 'NextSong' or (song is not null and artist is not null and length is not null))

-- events_incoming: the batch's accepted log lines, typed; text repaired of double-encoded UTF-8,
-- the userAgent's surrounding quotes dropped, an empty gender NULL, a blank userId (only spaces,
-- tabs or line breaks) empty like a logged-out event's.
insert into sparkify_staging.events_incoming
select
    repair_text(j."artist" ->> '$') as artist,
    (j."auth" ->> '$') as auth,
    repair_text(j."firstName" ->> '$') as first_name,
    nullif((j."gender" ->> '$'), '') as gender,
    cast((j."itemInSession" ->> '$') as integer) as item_in_session,
    repair_text(j."lastName" ->> '$') as last_name,
    cast((j."length" ->> '$') as double) as length,
    (j."level" ->> '$') as level,
    repair_text(j."location" ->> '$') as location,
    (j."method" ->> '$') as method,
    (j."page" ->> '$') as page,
    cast((j."registration" ->> '$') as double) as registration,
    cast((j."sessionId" ->> '$') as bigint) as session_id,
    repair_text(j."song" ->> '$') as song,
    cast((j."status" ->> '$') as integer) as status,
    cast((j."ts" ->> '$') as bigint) as ts,
    regexp_replace(repair_text(j."userAgent" ->> '$'), '^"(.*)"$', '\1') as user_agent,
    case
        when trim((j."userId" ->> '$'), ' ' || chr(9) || chr(10) || chr(13)) = '' then ''
        else (j."userId" ->> '$')
    end as user_id,
    source_file,
    line_number
from parsed
where reason is null

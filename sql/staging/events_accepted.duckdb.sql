-- events_incoming: the batch's accepted log lines, typed; text repaired of double-encoded UTF-8,
-- the userAgent's surrounding quotes dropped, an empty gender NULL, a blank userId (only spaces,
-- tabs or line breaks) empty like a logged-out event's.
insert into sparkify_staging.events_incoming
select
    repair_text(json_text(j."artist")) as artist,
    json_text(j."auth") as auth,
    repair_text(json_text(j."firstName")) as first_name,
    nullif(json_text(j."gender"), '') as gender,
    cast(json_text(j."itemInSession") as integer) as item_in_session,
    repair_text(json_text(j."lastName")) as last_name,
    cast(json_text(j."length") as double) as length,
    json_text(j."level") as level,
    repair_text(json_text(j."location")) as location,
    json_text(j."method") as method,
    json_text(j."page") as page,
    cast(json_text(j."registration") as double) as registration,
    cast(json_text(j."sessionId") as bigint) as session_id,
    repair_text(json_text(j."song")) as song,
    cast(json_text(j."status") as integer) as status,
    cast(json_text(j."ts") as bigint) as ts,
    regexp_replace(repair_text(json_text(j."userAgent")), '^"(.*)"$', '\1') as user_agent,
    case
        when trim(json_text(j."userId"), ' ' || chr(9) || chr(10) || chr(13)) = '' then ''
        else json_text(j."userId")
    end as user_id,
    source_file,
    line_number
from parsed
where reason is null

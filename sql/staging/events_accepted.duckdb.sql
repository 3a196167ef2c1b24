-- events_incoming: the batch's accepted log lines, typed; text repaired of double-encoded UTF-8,
-- the userAgent's surrounding quotes dropped, an empty gender NULL.
insert into sparkify_staging.events_incoming
select
    f_repair_mojibake(doc ->> '$.artist') as artist,
    doc ->> '$.auth' as auth,
    f_repair_mojibake(doc ->> '$.firstName') as first_name,
    nullif(doc ->> '$.gender', '') as gender,
    cast(doc ->> '$.itemInSession' as integer) as item_in_session,
    f_repair_mojibake(doc ->> '$.lastName') as last_name,
    cast(doc ->> '$.length' as double) as length,
    doc ->> '$.level' as level,
    f_repair_mojibake(doc ->> '$.location') as location,
    doc ->> '$.method' as method,
    doc ->> '$.page' as page,
    cast(doc ->> '$.registration' as double) as registration,
    cast(doc ->> '$.sessionId' as bigint) as session_id,
    f_repair_mojibake(doc ->> '$.song') as song,
    cast(doc ->> '$.status' as integer) as status,
    cast(doc ->> '$.ts' as bigint) as ts,
    regexp_replace(f_repair_mojibake(doc ->> '$.userAgent'), '^"(.*)"$', '\1') as user_agent,
    doc ->> '$.userId' as user_id,
    source_file,
    line_number
from parsed
where reason is null

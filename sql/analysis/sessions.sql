-- sessions: how many listening sessions, and how long in plays and in minutes (first to last play)?
with sessions as (
    select
        user_id,
        session_id,
        count(*) as plays,
        datediff(millisecond, min(start_time), max(start_time)) / 60000.0 as minutes
    from songplays
    where start_time >= :start_time and start_time < :end_time
    group by user_id, session_id
)

select
    count(*) as sessions,
    avg(cast(plays as double precision)) as avg_plays,
    max(plays) as max_plays,
    avg(minutes) as avg_minutes,
    max(minutes) as max_minutes
from sessions

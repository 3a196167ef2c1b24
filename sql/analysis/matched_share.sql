-- matched_share: what share of plays matched a song in the catalogue?
select
    count(*) as plays,
    count(song_id) as matched,
    case when count(*) = 0 then 0 else count(song_id) * 1.0 / count(*) end as share
from songplays
where start_time >= :start_time and start_time < :end_time

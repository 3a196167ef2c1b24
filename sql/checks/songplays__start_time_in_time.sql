-- songplays.start_time exists in time: returns the songplays whose start_time has no time row.
select songplays.*
from sparkify_build.songplays as songplays
left join sparkify_build."time" as dimension on dimension.start_time = songplays.start_time
where songplays.start_time is not null and dimension.start_time is null

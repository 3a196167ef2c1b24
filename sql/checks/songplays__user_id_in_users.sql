-- songplays.user_id exists in users: returns the songplays whose user_id has no users row.
select songplays.*
from sparkify_build.songplays as songplays
left join sparkify_build."users" as dimension on dimension.user_id = songplays.user_id
where songplays.user_id is not null and dimension.user_id is null

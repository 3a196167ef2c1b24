-- songplays.song_id exists in songs: returns the songplays whose song_id has no songs row.
select songplays.*
from sparkify_build.songplays as songplays
left join sparkify_build."songs" as dimension on dimension.song_id = songplays.song_id
where songplays.song_id is not null and dimension.song_id is null

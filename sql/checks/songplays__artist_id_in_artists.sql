-- songplays.artist_id exists in artists: returns the songplays whose artist_id has no artists row.
select songplays.*
from sparkify_build.songplays as songplays
left join sparkify_build."artists" as dimension on dimension.artist_id = songplays.artist_id
where songplays.artist_id is not null and dimension.artist_id is null

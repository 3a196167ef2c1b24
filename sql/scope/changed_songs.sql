-- changed_songs: songs with a changed staged song file.
insert into sparkify_staging.changed_songs
select distinct song_id
from sparkify_staging.songs_changed

-- songs_next_of_changed_songs: every next-state song file of the songs a daily run rebuilds.
create or replace view sparkify_staging.songs_next_of_changed_songs as
select songs.*
from sparkify_staging.songs_next as songs
where songs.song_id in (select changed.song_id from sparkify_staging.changed_songs as changed)

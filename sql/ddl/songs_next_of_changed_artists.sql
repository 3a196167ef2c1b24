-- songs_next_of_changed_artists: every next-state song file of the artists a daily run rebuilds.
create or replace view sparkify_staging.songs_next_of_changed_artists as
select songs.*
from sparkify_staging.songs_next as songs
where songs.artist_id in (
    select changed.artist_id from sparkify_staging.changed_artists as changed
)

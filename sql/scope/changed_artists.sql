-- changed_artists: artists with a changed staged song file.
insert into sparkify_staging.changed_artists
select distinct artist_id
from sparkify_staging.songs_changed

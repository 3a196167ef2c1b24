-- songplays (song_id, artist_id) is a pair the songs table holds: returns the songplays whose
-- artist is not their song's artist.
{%- from "macros/incremental.sql.j2" import next_state with context %}
select songplays.*
from sparkify_build.songplays as songplays
inner join {{ next_state('songs') }} as songs on songs.song_id = songplays.song_id
where songs.artist_id <> songplays.artist_id

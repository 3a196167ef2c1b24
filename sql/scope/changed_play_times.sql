-- changed_play_times: instants of changed plays, and of plays a changed song file may match
-- or stop matching (same title and artist name, before or after the change).
insert into sparkify_staging.changed_play_times
with changed_songs as (
    select distinct title, artist_name
    from sparkify_staging.songs_changed
),

changed_plays as (
    select ts
    from sparkify_staging.events_changed
    where page = 'NextSong' and user_id <> ''
    union
    select events.ts
    from sparkify_staging.events_next as events
    inner join changed_songs
        on changed_songs.title = events.song and changed_songs.artist_name = events.artist
    where events.page = 'NextSong' and events.user_id <> ''
)

select ts, timestamp 'epoch' + ts * interval '0.001 second' as start_time
from changed_plays

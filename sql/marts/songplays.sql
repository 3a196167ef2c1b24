-- songplays: one row per play (see plays_next). song_id and artist_id come from the song (as
-- the songs table keeps it: the first file per song_id) whose title and artist name equal the
-- play's and whose duration is within 1 ms of its length, compared in whole microseconds so
-- binary floating point cannot miss an exact 1 ms; if several match, the smallest song_id
-- wins; a play that matches none keeps NULL ids. Each distinct (song, artist, length) the plays
-- name is matched once and every play takes its track's match: the 10M-event lake has 809k
-- tracks for 8.2M plays (this query: 23.7-28.5 s matching play by play, 20.6-21.2 s by track,
-- the same rows). The tracks are read from the events, so plays is read once and DuckDB does not
-- store its 8.2M rows on the side: 25.3-26.4 s -> 17.8-19.0 s inserting into a build table under
-- the flow's 1 GB memory limit (the same rows; bench/RESULTS.md). A daily run rebuilds the
-- plays at changed instants: plays_next, included
-- here, then reads only the events at those instants (sparkify_staging.changed_play_times);
-- they are matched against every song.
with plays as (
    {% include "intermediate/plays_next.sql" %}
),

staged_songs as (
    select * from sparkify_staging.songs_next
),

catalogue as (
    select song_id, title, artist_id, artist_name, duration
    from staged_songs as staged  -- Redshift: QUALIFY right after FROM needs an alias
    qualify row_number() over (
        partition by song_id order by source_file, line_number nulls first
    ) = 1
),

played as (
    {% include "intermediate/next_songs.sql" %}
),

tracks as (
    -- each distinct (title, artist, length) a play names: matched once, not once per play.
    -- Read from the events, not from plays, so plays is read once (by final) and not stored
    -- on the side first: a copy of an event names its first copy's track, or one no play
    -- keeps, which final's join never reads
    select distinct song, artist, length from played
),

matches as (
    select
        tracks.song,
        tracks.artist,
        tracks.length,
        catalogue.song_id,
        catalogue.artist_id,
        row_number() over (
            partition by tracks.song, tracks.artist, tracks.length order by catalogue.song_id
        ) as match_rank
    from tracks
    inner join catalogue
        on catalogue.title = tracks.song
        and catalogue.artist_name = tracks.artist
        and abs(round(catalogue.duration * 1000000) - round(tracks.length * 1000000)) <= 1000
),

final as (
    select
        plays.songplay_id,
        plays.start_time,
        plays.user_id,
        plays.level,
        matches.song_id,
        matches.artist_id,
        plays.session_id,
        plays.location,
        plays.user_agent
    from plays
    left join matches
        on matches.song = plays.song
        and matches.artist = plays.artist
        and matches.length = plays.length
        and matches.match_rank = 1
)

select * from final

-- songplays: one row per play (see plays_next). song_id and artist_id come from the song (as
-- the songs table keeps it: the first file per song_id) whose title and artist name equal the
-- play's and whose duration is within 1 ms of its length, compared in whole microseconds so
-- binary floating point cannot miss an exact 1 ms; if several match, the smallest song_id
-- wins; a play that matches none keeps NULL ids. A daily run rebuilds the plays at changed
-- instants: plays_next, included here, then reads only the events at those instants
-- (sparkify_staging.changed_play_times); they are matched against every song.
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

matches as (
    select
        plays.songplay_id,
        catalogue.song_id,
        catalogue.artist_id,
        row_number() over (
            partition by plays.songplay_id order by catalogue.song_id
        ) as match_rank
    from plays
    inner join catalogue
        on catalogue.title = plays.song
        and catalogue.artist_name = plays.artist
        and abs(round(catalogue.duration * 1000000) - round(plays.length * 1000000)) <= 1000
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
    left join matches on matches.songplay_id = plays.songplay_id and matches.match_rank = 1
)

select * from final

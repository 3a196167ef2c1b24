-- songplays: one row per play (see plays_next). song_id and artist_id come from the song whose
-- title and artist name equal the play's and whose duration is within 1 ms of its length; if
-- several match, the smallest song_id wins; a play that matches none keeps NULL ids.
with plays as (
    select * from sparkify_staging.plays_next
),

staged_songs as (
    select * from sparkify_staging.songs_next
),

matches as (
    select
        plays.songplay_id,
        staged_songs.song_id,
        staged_songs.artist_id,
        row_number() over (
            partition by plays.songplay_id
            order by staged_songs.song_id, staged_songs.source_file
        ) as match_rank
    from plays
    inner join staged_songs
        on staged_songs.title = plays.song
        and staged_songs.artist_name = plays.artist
        and abs(staged_songs.duration - plays.length) <= 0.001
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

-- top_songs: which known songs were played most between :start_time and :end_time?
with plays as (
    select song_id from songplays
    where start_time >= :start_time and start_time < :end_time and song_id is not null
),

final as (
    select songs.song_id, songs.title, artists.name as artist, count(*) as plays
    from plays
    inner join songs on songs.song_id = plays.song_id
    inner join artists on artists.artist_id = songs.artist_id
    group by songs.song_id, songs.title, artists.name
)

select * from final order by plays desc, title, artist, song_id limit 10

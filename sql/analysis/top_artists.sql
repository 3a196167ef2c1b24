-- top_artists: which known artists were played most between :start_time and :end_time?
with plays as (
    select artist_id from songplays
    where start_time >= :start_time and start_time < :end_time and artist_id is not null
),

final as (
    select artists.artist_id, artists.name as artist, count(*) as plays
    from plays
    inner join artists on artists.artist_id = plays.artist_id
    group by artists.artist_id, artists.name
)

select * from final order by plays desc, artist, artist_id limit 10

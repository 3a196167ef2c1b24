-- songs_incoming: the batch's accepted song files, typed, values as the lake has them.
insert into sparkify_staging.songs_incoming
select
    cast((j."num_songs" ->> '$') as integer) as num_songs,
    (j."artist_id" ->> '$') as artist_id,
    cast((j."artist_latitude" ->> '$') as double) as artist_latitude,
    cast((j."artist_longitude" ->> '$') as double) as artist_longitude,
    (j."artist_location" ->> '$') as artist_location,
    (j."artist_name" ->> '$') as artist_name,
    (j."song_id" ->> '$') as song_id,
    (j."title" ->> '$') as title,
    cast((j."duration" ->> '$') as double) as duration,
    cast((j."year" ->> '$') as integer) as year,
    source_file
from parsed
where reason is null

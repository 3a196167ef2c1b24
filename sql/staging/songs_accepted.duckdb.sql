-- songs_incoming: the batch's accepted song files, typed, values as the lake has them.
insert into sparkify_staging.songs_incoming
select
    cast(doc ->> '$.num_songs' as integer) as num_songs,
    doc ->> '$.artist_id' as artist_id,
    cast(doc ->> '$.artist_latitude' as double) as artist_latitude,
    cast(doc ->> '$.artist_longitude' as double) as artist_longitude,
    doc ->> '$.artist_location' as artist_location,
    doc ->> '$.artist_name' as artist_name,
    doc ->> '$.song_id' as song_id,
    doc ->> '$.title' as title,
    cast(doc ->> '$.duration' as double) as duration,
    cast(doc ->> '$.year' as integer) as year,
    source_file
from parsed
where reason is null

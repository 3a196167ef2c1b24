-- songs_incoming: the batch's accepted song files, typed, values as the lake has them.
insert into sparkify_staging.songs_incoming
select
    cast(json_text(j."num_songs") as integer) as num_songs,
    json_text(j."artist_id") as artist_id,
    cast(json_text(j."artist_latitude") as double) as artist_latitude,
    cast(json_text(j."artist_longitude") as double) as artist_longitude,
    json_text(j."artist_location") as artist_location,
    json_text(j."artist_name") as artist_name,
    json_text(j."song_id") as song_id,
    json_text(j."title") as title,
    cast(json_text(j."duration") as double) as duration,
    cast(json_text(j."year") as integer) as year,
    source_file
from parsed
where reason is null

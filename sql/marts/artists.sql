-- artists: one row per artist_id. Song files disagree about artists, so each attribute has a
-- fixed rule: name from the artist's first song by song_id; location from the first song (by
-- song_id) with a non-empty one; latitude and longitude together from the first song with both.
-- A daily run rebuilds the artists with a changed song file, each from all of their songs.
with staged_songs as (
    select
        artist_id,
        song_id,
        source_file,
        line_number,
        artist_name,
        nullif(trim(artist_location), '') as artist_location,
        artist_latitude,
        artist_longitude
    from sparkify_staging.songs_next
    {%- if is_incremental %}
    where artist_id in (select artist_id from sparkify_staging.changed_artists)
    {%- endif %}
),

named as (
    select
        artist_id,
        artist_name,
        row_number() over (
            partition by artist_id order by song_id, source_file, line_number nulls first
        ) as pick
    from staged_songs
),

located as (
    select
        artist_id,
        artist_location,
        row_number() over (
            partition by artist_id order by song_id, source_file, line_number nulls first
        ) as pick
    from staged_songs
    where artist_location is not null
),

placed as (
    select
        artist_id,
        artist_latitude,
        artist_longitude,
        row_number() over (
            partition by artist_id order by song_id, source_file, line_number nulls first
        ) as pick
    from staged_songs
    where artist_latitude is not null and artist_longitude is not null
),

final as (
    select
        named.artist_id,
        named.artist_name as name,
        located.artist_location as location,
        placed.artist_latitude as latitude,
        placed.artist_longitude as longitude
    from named
    left join located on located.artist_id = named.artist_id and located.pick = 1
    left join placed on placed.artist_id = named.artist_id and placed.pick = 1
    where named.pick = 1
)

select * from final

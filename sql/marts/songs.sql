-- songs: one row per song_id; if several song files carry the same song_id, the first file by
-- path (and the first song in it) wins. Year 0 is the Million Song Dataset's "unknown" and becomes
-- NULL. A daily run rebuilds the songs with a changed song file, each from all of its files.
with staged_songs as (
    select * from sparkify_staging.songs_next
    {%- if is_incremental %}
    where song_id in (select song_id from sparkify_staging.changed_songs)
    {%- endif %}
),

ranked as (
    select
        song_id,
        title,
        artist_id,
        year,
        duration,
        row_number() over (
            partition by song_id order by source_file, line_number nulls first
        ) as file_rank
    from staged_songs
),

final as (
    select song_id, title, artist_id, nullif(year, 0) as year, duration
    from ranked
    where file_rank = 1
)

select * from final

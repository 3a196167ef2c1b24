-- next_songs: the NextSong events of logged-in users (non-empty user_id), each copy of an event
-- read twice included, with its start_time: what a play is, before plays_next makes each one
-- row. time includes it alone (a copy has its original's instant, so the distinct instants are
-- the same); a daily run reads only the events at the instants it rebuilds.
with events as (
    select * from sparkify_staging.events_next
    {%- if is_incremental %}
    where ts in (select ts from sparkify_staging.changed_play_times)
    {%- endif %}
),

final as (
    select
        ts,
        timestamp 'epoch' + ts * interval '0.001 second' as start_time,
        user_id,
        level,
        song,
        artist,
        length,
        session_id,
        item_in_session,
        location,
        user_agent,
        source_file,
        line_number
    from events
    where page = 'NextSong' and user_id <> ''
)

select * from final

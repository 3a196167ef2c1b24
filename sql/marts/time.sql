-- time: one row per distinct songplays start_time; week is the ISO week, weekday 0 = Sunday.
-- A daily run rebuilds the instants of changed plays: next_songs, included here, then reads only
-- the events at those instants (sparkify_staging.changed_play_times). Not plays_next: making
-- each play one row (an id hashed per event, copies ranked) changes no instant, and cost 6-10 s
-- of the 10M load.
with plays as (
    {% include "intermediate/next_songs.sql" %}
),

instants as (
    select distinct start_time from plays
),

final as (
    select
        start_time,
        extract(hour from start_time) as hour,
        extract(day from start_time) as day,
        extract(week from start_time) as week,
        extract(month from start_time) as month,
        extract(year from start_time) as year,
        extract(dow from start_time) as weekday
    from instants
)

select * from final

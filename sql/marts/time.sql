-- time: one row per distinct songplays start_time; week is the ISO week, weekday 0 = Sunday.
with plays as (
    select * from sparkify_staging.plays_next
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

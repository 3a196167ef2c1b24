-- level_changes: which users upgraded (free to paid) or downgraded between plays, how often?
with plays as (
    select
        user_id,
        level,
        lag(level) over (partition by user_id order by start_time, songplay_id) as previous_level
    from songplays
    where start_time >= :start_time and start_time < :end_time
),

final as (
    select
        user_id,
        sum(case when previous_level = 'free' and level = 'paid' then 1 else 0 end) as upgrades,
        sum(case when previous_level = 'paid' and level = 'free' then 1 else 0 end) as downgrades
    from plays
    group by user_id
)

select * from final where upgrades > 0 or downgrades > 0 order by user_id

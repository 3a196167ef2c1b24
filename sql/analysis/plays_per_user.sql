-- plays_per_user: how are plays spread over users (users per bucket of plays)?
with per_user as (
    select user_id, count(*) as plays
    from songplays
    where start_time >= :start_time and start_time < :end_time
    group by user_id
),

bucketed as (
    select
        case
            when plays = 1 then 1
            when plays <= 10 then 2
            when plays <= 50 then 3
            when plays <= 100 then 4
            when plays <= 500 then 5
            else 6
        end as bucket
    from per_user
)

select
    bucket,
    case bucket
        when 1 then '1' when 2 then '2-10' when 3 then '11-50' when 4 then '51-100'
        when 5 then '101-500' else '501+'
    end as plays,
    count(*) as users
from bucketed
group by bucket
order by bucket

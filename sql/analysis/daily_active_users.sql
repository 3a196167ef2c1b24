-- daily_active_users: how many distinct users played a song each day (UTC)?
select cast(start_time as date) as day, count(distinct user_id) as users
from songplays
where start_time >= :start_time and start_time < :end_time
group by cast(start_time as date)
order by day

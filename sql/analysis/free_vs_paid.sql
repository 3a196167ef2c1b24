-- free_vs_paid: how many plays, and how many listening users, at each level?
select level, count(*) as plays, count(distinct user_id) as users
from songplays
where start_time >= :start_time and start_time < :end_time
group by level
order by level

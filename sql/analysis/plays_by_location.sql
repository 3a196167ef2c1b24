-- plays_by_location: where do the plays come from (the ten busiest locations)?
select coalesce(location, 'unknown') as location, count(*) as plays
from songplays
where start_time >= :start_time and start_time < :end_time
group by coalesce(location, 'unknown')
order by plays desc, location
limit 10

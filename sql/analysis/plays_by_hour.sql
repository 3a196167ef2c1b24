-- plays_by_hour: at which hours of the day (UTC) do people listen?
select "time".hour, count(*) as plays
from songplays
inner join "time" on "time".start_time = songplays.start_time
where songplays.start_time >= :start_time and songplays.start_time < :end_time
group by "time".hour
order by "time".hour

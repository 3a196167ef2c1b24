-- plays_by_weekday: on which days of the week do people listen (0 = Sunday)?
select "time".weekday, count(*) as plays
from songplays
inner join "time" on "time".start_time = songplays.start_time
where songplays.start_time >= :start_time and songplays.start_time < :end_time
group by "time".weekday
order by "time".weekday

-- staging events: add the rows this run staged.
insert into sparkify_staging.events
select * from sparkify_staging.events_incoming

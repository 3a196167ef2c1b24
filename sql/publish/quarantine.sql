-- quarantine: add the records this run rejected.
insert into sparkify_staging.quarantine
select * from sparkify_staging.quarantine_incoming

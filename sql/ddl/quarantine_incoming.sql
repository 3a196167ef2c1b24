-- quarantine_incoming: the records this run rejected; inspect it after a run fails on the rejected share.
create table if not exists sparkify_staging.quarantine_incoming as
select * from sparkify_staging.quarantine where 1 = 0

-- quarantine_incoming: the records this run rejected; inspect it after a run fails on the rejected share.
create table if not exists sparkify_staging.quarantine_incoming (like sparkify_staging.quarantine)

-- {{ table }}_incoming: this run's new rows of sparkify_staging.{{ table }}, published into it at
-- the end: a kind's accepted records, or the records the run rejected (inspect those after a
-- run fails on the rejected share).
create table if not exists sparkify_staging.{{ table }}_incoming (like sparkify_staging.{{ table }})

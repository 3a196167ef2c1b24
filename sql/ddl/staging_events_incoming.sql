-- events_incoming: the accepted events records this run read; published into sparkify_staging.events at the end.
create table if not exists sparkify_staging.events_incoming (like sparkify_staging.events)

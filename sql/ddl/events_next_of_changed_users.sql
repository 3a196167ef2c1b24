-- events_next_of_changed_users: every next-state event of the users a daily run rebuilds (the
-- users mart partitions by user_id, so each of these users keeps all of their events).
create or replace view sparkify_staging.events_next_of_changed_users as
select events.*
from sparkify_staging.events_next as events
where events.user_id in (select changed.user_id from sparkify_staging.changed_users as changed)

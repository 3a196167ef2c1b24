-- events_next_at_changed_times: every next-state event at an instant a daily run rebuilds.
create or replace view sparkify_staging.events_next_at_changed_times as
select events.*
from sparkify_staging.events_next as events
where events.ts in (select changed.ts from sparkify_staging.changed_play_times as changed)

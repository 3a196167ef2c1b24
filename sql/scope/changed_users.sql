-- changed_users: users with a changed staged event (logged-out events belong to no user).
insert into sparkify_staging.changed_users
select distinct user_id
from sparkify_staging.events_changed
where user_id <> ''

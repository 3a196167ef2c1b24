-- changed_users: the users a daily run rebuilds (each has a changed staged event).
create table if not exists sparkify_staging.changed_users (
    user_id varchar(64) not null
)
diststyle all

-- users: one row per user_id. Small: copied to every node.
create table if not exists users (
    user_id    varchar(64) not null,
    first_name varchar(256),
    last_name  varchar(256),
    gender     varchar(16),
    level      varchar(16) not null,
    primary key (user_id)
)
diststyle all
sortkey (user_id)

-- incoming_files: one row per (kind, source_file) whose staged rows this run replaces (read, or gone from the lake).
create table if not exists sparkify_staging.incoming_files (
    kind        varchar(16) not null,
    source_file varchar(1024) not null
)
diststyle all

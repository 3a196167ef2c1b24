-- run_lock: an empty table a run locks for its whole length, so runs never interleave writes.
create table if not exists sparkify_meta.run_lock (
    holder varchar(64)
)
diststyle all

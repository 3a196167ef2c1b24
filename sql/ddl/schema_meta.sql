-- Bookkeeping: one row per published run.
create schema if not exists sparkify_meta

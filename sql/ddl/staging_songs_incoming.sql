-- songs_incoming: the accepted songs records this run read; published into sparkify_staging.songs at the end.
create table if not exists sparkify_staging.songs_incoming as
select * from sparkify_staging.songs where 1 = 0

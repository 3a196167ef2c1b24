-- songs_incoming: the accepted songs records this run read; published into sparkify_staging.songs at the end.
create table if not exists sparkify_staging.songs_incoming (like sparkify_staging.songs)

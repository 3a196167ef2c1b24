-- staging songs: add the rows this run staged.
insert into sparkify_staging.songs
select * from sparkify_staging.songs_incoming

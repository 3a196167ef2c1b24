-- songs.artist_id exists in artists: returns the songs whose artist has no artists row.
select songs.*
from sparkify_build.songs as songs
left join sparkify_build.artists as artists on artists.artist_id = songs.artist_id
where artists.artist_id is null

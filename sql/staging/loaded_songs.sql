-- loaded_songs: the song files already staged, and the version each was read at.
select source_file, etag
from sparkify_staging.loaded_files
where kind = 'songs'

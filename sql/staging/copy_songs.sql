-- songs_incoming: COPY the compacted song files (one object per line, each carrying its
-- source_file) through the manifest that names them; JSON 'auto' maps keys to columns.
copy sparkify_staging.songs_incoming
from :manifest_uri
iam_role :iam_role
format as json 'auto'
manifest
region :region
compupdate off
statupdate off
maxerror :max_errors

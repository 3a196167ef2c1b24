-- events_copy: COPY one log file from S3, through a manifest naming exactly that object.
copy sparkify_staging.events_copy
from :manifest_uri
iam_role :iam_role
format as json :jsonpaths_uri
manifest
region :region
compupdate off
statupdate off
maxerror :max_errors

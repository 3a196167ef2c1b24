-- events_copy: emptied after each file, so the next COPY starts clean.
delete from sparkify_staging.events_copy

-- load_history: record the run that just published.
insert into sparkify_meta.load_history (
    run_id, partition_label, published_at, event_files, events_accepted, events_rejected,
    song_files, songs_accepted, songs_rejected
)
values (
    :run_id, :partition_label, getdate(), :event_files, :events_accepted, :events_rejected,
    :song_files, :songs_accepted, :songs_rejected
)

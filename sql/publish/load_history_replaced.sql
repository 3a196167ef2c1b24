-- load_history: drop this run's row if an earlier attempt of its publish wrote it (a COMMIT
-- whose connection dropped may have committed), so a retried publish keeps one row per run.
delete from sparkify_meta.load_history
where run_id = :run_id

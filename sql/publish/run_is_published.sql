-- run_is_published: 1 when the run's publish committed (it writes the run's load_history row in
-- the same transaction as the tables), else 0.
select count(*) as published
from sparkify_meta.load_history
where run_id = :run_id

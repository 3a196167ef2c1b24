-- rejected_by_reason: how many of one kind's records this run quarantined, per reason.
select reason, count(*) as records
from sparkify_staging.quarantine_incoming
where kind = :kind
group by reason
order by records desc, reason

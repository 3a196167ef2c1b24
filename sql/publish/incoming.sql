-- {{ table }}: add the rows this run staged in {{ table }}_incoming (for quarantine, the records it
-- rejected).
insert into sparkify_staging.{{ table }}
select * from sparkify_staging.{{ table }}_incoming

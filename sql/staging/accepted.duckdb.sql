-- {{ kind }}_incoming: the batch's accepted records, as parsed converted them.
insert into sparkify_staging.{{ kind }}_incoming ({{ columns }}, source_file, line_number)
select {{ columns }}, source_file, line_number
from parsed
where reason is null

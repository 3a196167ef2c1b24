-- records_to_resplit: the file pieces holding a record that is not one JSON value, to be cut
-- again as a stream of JSON values.
select distinct source_file, first_line
from parsed
where read_error is null and doc_type is null

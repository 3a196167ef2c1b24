-- parsed: emptied for the next batch (the table is made once per staging task).
delete from parsed

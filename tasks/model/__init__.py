"""The star schema as data: its tables (`tables`), their contracts (`contracts`), its DDL in
the order derived from the files (`ddl`), and the SQL templates' closed sets of table names
(`templates`)."""

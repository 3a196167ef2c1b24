"""The star schema as data: its tables (`tables`), their contracts (`contracts`) and DDL (`ddl`)."""

-- Staging, quarantine and the run's incoming rows live apart from the tables analysts query.
create schema if not exists sparkify_staging

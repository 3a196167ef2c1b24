"""Prefect tasks of the Sparkify ETL and the helpers they share."""

"""Prefect flows of the Sparkify ETL."""

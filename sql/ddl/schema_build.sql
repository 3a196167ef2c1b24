-- A run builds every table here first; checks audit it before publication swaps it in.
create schema if not exists sparkify_build

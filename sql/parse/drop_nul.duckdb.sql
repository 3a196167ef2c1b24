-- drop_nul: text without NUL characters, copying only the values that have one. (Each macro
-- names its parameter apart: DuckDB substitutes a nested macro's argument by name.)
create or replace temp macro drop_nul(nul_text) as
    case when contains(nul_text, chr(0)) then replace(nul_text, chr(0), '') else nul_text end

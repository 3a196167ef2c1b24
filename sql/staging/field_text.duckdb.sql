-- field_text: one field's JSON value as staged text: a string unquoted, a number exactly as the
-- file writes it (DuckDB re-serialises fractions, `1.50` as `1.5`, so those are read from the
-- record's own text), NUL characters dropped (Redshift cannot store them) and trailing blanks
-- dropped (Redshift ignores them when comparing text, DuckDB does not: dropped, both agree).
create or replace temp macro field_text(field_value, record_text, field) as
    rtrim_blanks(drop_nul(
        case json_kind(field_value)
            when 'VARCHAR' then cast(json_text(field_value) as varchar)
            when 'DOUBLE' then coalesce(
                nullif(regexp_extract(
                    record_text, '"' || field || '"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1
                ), ''),
                cast(field_value as varchar)
            )
            when 'UBIGINT' then cast(field_value as varchar)
            when 'BIGINT' then cast(field_value as varchar)
        end
    ))

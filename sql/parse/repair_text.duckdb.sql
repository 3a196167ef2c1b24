-- repair_text: f_repair_mojibake only where a value has non-ASCII characters (bytes differ from
-- characters), so the Python repair never sees the plain-ASCII bulk of the logs.
create or replace temp macro repair_text(value) as
    case when strlen(value) <> length(value) then f_repair_mojibake(value) else value end

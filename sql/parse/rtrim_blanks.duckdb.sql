-- rtrim_blanks: text without trailing spaces, copying only the values that end with one.
create or replace temp macro rtrim_blanks(blank_text) as
    case when ends_with(blank_text, ' ') then rtrim(blank_text, ' ') else blank_text end

-- mart_replaced: deletes the published rows of one mart that its build replaces (publishing then
-- inserts the build): every row on a full load, the rows of the keys a daily run rebuilt.
{%- from "macros/incremental.sql.j2" import changed_keys %}
delete from "{{ table }}"
{%- if is_incremental %}
{%- set key, changed = changed_keys[table] %}
where {{ key }} in (select {{ key }} from {{ changed }})
{%- endif %}

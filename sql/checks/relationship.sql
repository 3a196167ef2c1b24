-- relationship: returns the child rows whose column matches no parent row (dbt's relationships
-- test), compiled once per declaration in tasks.model.contracts.RELATIONSHIPS; a NULL passes where
-- the declaration says so. On a daily run the parent is looked up in its next state.
{%- from "macros/incremental.sql.j2" import next_state with context %}
select child.*
from sparkify_build."{{ child }}" as child
left join {{ next_state(parent) }} as parent on parent.{{ parent_column }} = child.{{ column }}
where parent.{{ parent_column }} is null
{%- if null_passes %} and child.{{ column }} is not null{% endif %}

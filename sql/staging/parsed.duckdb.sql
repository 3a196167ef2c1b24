-- parsed ({{ kind }}): one row per record of the batch (staging/{{ kind }}_records), its fields
-- converted as tasks/records.py declares them, with the first rule it breaks (reason; NULL =
-- accepted). Rendered from those declarations (jinja): one field per line below.
create or replace temp table parsed as
with fields as (
    -- one parse per record: every field as a JSON value (NULL when the key is absent), checked
    -- and cast from there (json_extract with a list of paths: 0.77-0.92 of json_transform's
    -- time, bench/parse_fields.py)
    select
        *,
        case when doc_type = 'OBJECT' then json_extract(raw_text, [
        {%- for f in fields %}
            '$."{{ f.json }}"'{{ "," if not loop.last }}
        {%- endfor %}
        ]) end as v
    from records
),

named as (
    select
        * exclude (v),
        {
        {%- for f in fields %}
            '{{ f.json }}': v[{{ loop.index }}]{{ "," if not loop.last }}
        {%- endfor %}
        } as j
    from fields
),

converted as (
    select
        source_file,
        line_number,
        raw_text,
        read_error,
        doc_type,
        j,
    {%- for f in fields %}
        {{ converted(f) }} as {{ f.column }}{{ "," if not loop.last }}
    {%- endfor %}
    from named
),

final as (
    select
        source_file,
        line_number,
        raw_text,
    {%- for f in fields %}
        {{ bounded(f) }} as {{ f.column }},
    {%- endfor %}
        coalesce(
            read_error,
            case when strlen(raw_text) > {{ max_record_bytes }} then 'record over 4 MB' end,
            case when doc_type is null then 'malformed JSON' end,
            case when doc_type <> 'OBJECT' then 'not a JSON object' end,
        {%- for f in fields %}
            field_problem(j."{{ f.json }}", '{{ f.json }}', '{{ f.kind }}', {{ required(f) }}),
        {%- endfor %}
        {%- for problem in value_problems %}
            {{ problem }}{{ "," if not loop.last }}
        {%- endfor %}
        ) as reason
    from converted
)

select * from final

"""The SQL files that are templates over table names, and the closed set each name comes from.

Two statements that differed only in a table's name are one file whose variable names the
table (`{{ kind }}_incoming`). Its values come from the sets declared here, never from input:
`tasks.common.sql_files.render` refuses any other, and the tests render every template with
every value. Values the statement compares or inserts stay bound parameters. A leaf module
(it imports only the table names).
"""

from __future__ import annotations

from tasks.model.tables import BY_KIND_INCOMING, BY_KIND_PUBLISHED, INCOMING, KINDS, MARTS

# statement name: {template variable: the identifiers it may be}
TEMPLATE_VARIABLES: dict[str, dict[str, tuple[str, ...]]] = {
    "ddl/incoming": {"table": INCOMING},
    "ddl/staging_next": {"kind": KINDS},
    "ddl/staging_changed": {"kind": KINDS},
    "staging/clear_incoming": {"kind": KINDS},
    "staging/clear_kind": {"table": BY_KIND_INCOMING},
    "publish/staging_replaced": {"kind": KINDS},
    "publish/by_kind_replaced": {"table": BY_KIND_PUBLISHED},
    "publish/incoming": {"table": INCOMING},
    "publish/mart_replaced": {"table": MARTS},
}

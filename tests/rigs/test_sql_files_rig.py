"""On the PostgreSQL rig, the tables of sql/ddl behave as Redshift's do: a duplicate key is kept
(and the unique check catches it), a VARCHAR width counts bytes. The renders themselves are
checked without the rig in tests/unit/test_sql_files.py."""

import pytest
import redshift_connector

from tasks.check import run_check, table_checks
from tasks.model.ddl import ddl_statements
from tasks.warehouse.connect import connect
from tasks.warehouse.target import WarehouseTarget
from tests.redshift_rig import reset_rig_warehouse, rig_env


@pytest.fixture
def rig_schema(redshift_rig, monkeypatch) -> WarehouseTarget:
    """The rig holding every table and view of sql/ddl, as the ETL's schema task makes them."""
    for key, value in rig_env(redshift_rig).items():
        monkeypatch.setenv(key, value)
    target = reset_rig_warehouse()
    with connect(target) as wh, wh.transaction():
        for statement in ddl_statements():
            wh.run(statement.name, None, **statement.variables)
    return target


def test_rig_keeps_a_duplicate_key_and_the_unique_check_catches_it(rig_schema) -> None:
    user = {"user_id": "u1", "level": "free"}
    with connect(rig_schema) as wh:
        for _ in range(2):
            wh.execute("insert into users (user_id, level) values (%(user_id)s, %(level)s)", user)
        assert wh.count("users") == 2  # Redshift keeps both: its keys are informational
        wh.execute("create table sparkify_build.users as select * from users")
        (unique,) = [c for c in table_checks("users", "postgres") if c.name == "user_id unique"]
        assert run_check(wh, unique).failing_rows == 1


# (table, column, width, the other columns a row needs): a table with a key, a staging table,
# and a `(like ...)` copy of it.
BYTE_LIMITED = [
    ("users", "gender", 16, {"user_id": "u1", "level": "free"}),
    ("sparkify_staging.quarantine", "kind", 16, {"source_file": "f", "reason": "r"}),
    ("sparkify_staging.quarantine_incoming", "kind", 16, {"source_file": "f", "reason": "r"}),
]


def _insert(target: WarehouseTarget, table: str, row: dict[str, str]) -> None:
    columns = ", ".join(row)
    marks = ", ".join(f"%({column})s" for column in row)
    with connect(target) as wh:
        wh.execute(f"insert into {table} ({columns}) values ({marks})", row)


@pytest.mark.parametrize(("table", "column", "width", "others"), BYTE_LIMITED)
def test_rig_counts_a_varchar_width_in_bytes(rig_schema, table, column, width, others) -> None:
    euros, rest = divmod(width, 3)  # "€" is 3 bytes in UTF-8
    exact = "€" * euros + "a" * rest
    assert len(exact.encode()) == width
    _insert(rig_schema, table, {**others, column: exact})
    for too_long in ("€" * width, exact + "a"):  # n characters in 3n bytes; n + 1 bytes
        with pytest.raises(redshift_connector.ProgrammingError):
            _insert(rig_schema, table, {**others, column: too_long})
    with connect(rig_schema) as wh:
        assert wh.query(f"select {column} from {table}") == [(exact,)]

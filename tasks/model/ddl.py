"""The warehouse's DDL in the order it runs, derived from the files, and the columns added to
tables after their release.

Each statement under sql/ddl/, and each view under sql/intermediate/, is read with sqlglot for
what it creates (a schema, table or view) and what it needs: the schema it is created in, the
table a `LIKE` or `AS SELECT` copies, the relations a view reads. Create schema runs schemas
first, then tables, then views, each after what it needs, ties broken by file name, so a file
added, merged or deleted changes the order with no list to keep in step. A file that needs a
relation no file creates, or files that need each other, are an error naming them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from tasks.common.errors import EtlError
from tasks.common.sql_files import SOURCE_DIALECT, SQL_ROOT, render, statement_names, variants

# Under sql/ddl/ but not run by create schema: the run lock creates its own table before it
# locks it (`tasks.warehouse.redshift.lock.LOCK_TABLE_DDL`), and create schema runs while a run
# holds that lock, so it must never touch the table.
CREATED_ELSEWHERE = frozenset({"ddl/run_lock"})

# Columns added to staging tables after their first release: (table, column, type). CREATE TABLE
# IF NOT EXISTS leaves an existing table as it is, so an older warehouse gets each one added.
ADDED_COLUMNS = (
    ("songs", "line_number", "integer"),
    ("songs_incoming", "line_number", "integer"),
)

# Views older releases created and this one does not: dropped (dependents first) before the
# DDL runs, so a warehouse an older release built keeps no view bound to the tables they read
# (on Redshift such a view would block dropping or changing those tables).
RETIRED_VIEWS = (
    "sparkify_staging.plays_next_at_changed_times",
    "sparkify_staging.plays_next",
    "sparkify_staging.events_next_of_changed_users",
    "sparkify_staging.events_next_at_changed_times",
    "sparkify_staging.songs_next_of_changed_songs",
    "sparkify_staging.songs_next_of_changed_artists",
)

Kind = Literal["schema", "table", "view"]
_RANK: dict[Kind, int] = {"schema": 0, "table": 1, "view": 2}
_KINDS: dict[str, Kind] = {"SCHEMA": "schema", "TABLE": "table", "VIEW": "view"}
# What a statement creates or needs: ("schema", name) or ("relation", "schema.table").
Ref = tuple[Literal["schema", "relation"], str]


class DdlOrderError(EtlError):
    """The DDL files cannot be put in an order: one needs what no file creates, two create the
    same object, or some need each other in a cycle."""


@dataclass(frozen=True)
class DdlStatement:
    """One statement create schema runs: the file (`name`) and its template's table variables
    (`context`), what it creates and what it needs created first."""

    name: str
    context: tuple[tuple[str, str], ...]
    kind: Kind
    creates: Ref
    needs: frozenset[Ref]

    @property
    def variables(self) -> dict[str, str]:
        """The template context to render the file with (`Session.run(name, **variables)`)."""
        return dict(self.context)

    def __str__(self) -> str:
        """The file, with the table its template is filled with: `sql/ddl/incoming.sql
        (table=songs)` (errors name it so)."""
        filled = ", ".join(f"{key}={value}" for key, value in self.context)
        return f"sql/{self.name}.sql ({filled})" if filled else f"sql/{self.name}.sql"


def ddl_statements() -> tuple[DdlStatement, ...]:
    """Every statement create schema runs, each after what it needs (cached: files do not
    change during a run)."""
    return _derived()


def ddl_for(relations: Iterable[str]) -> tuple[DdlStatement, ...]:
    """The statements that create `relations` ("schema.table") and all they need, in order: a
    part of the warehouse, such as the scratch staging tables of a Redshift run."""
    every = ddl_statements()
    by_ref = {statement.creates: statement for statement in every}
    wanted: set[DdlStatement] = set()
    pending: list[Ref] = [("relation", _normal(name)) for name in relations]
    while pending:
        ref = pending.pop()
        if ref not in by_ref:
            raise DdlOrderError(f"no file under sql/ddl/ creates {_shown(ref)}")
        statement = by_ref[ref]
        if statement not in wanted:
            wanted.add(statement)
            pending.extend(statement.needs)
    return tuple(statement for statement in every if statement in wanted)


@cache
def _derived() -> tuple[DdlStatement, ...]:
    statements = []
    for name in statement_names("ddl/"):
        if name not in CREATED_ELSEWHERE:
            statements += [read_statement(name, context) for context in variants(name)]
    for name in statement_names("intermediate/"):  # the views; a plain query is a marts' part
        for context in variants(name):
            text = render(name, SOURCE_DIALECT, **context, is_incremental=False)
            tree = sqlglot.parse_one(text, read=SOURCE_DIALECT)
            if isinstance(tree, exp.Create) and tree.kind == "VIEW":
                statements.append(read_statement(name, context))
    return order(statements)


def read_statement(name: str, context: Mapping[str, str]) -> DdlStatement:
    """The statement in `sql/<name>.sql`, rendered with `context`, as create schema runs it:
    what it creates and needs, read from the file in Redshift's dialect and from any engine
    override beside it (an override may copy a table the base file declares column by column)."""
    texts = {SOURCE_DIALECT: render(name, SOURCE_DIALECT, **context)}
    for override in SQL_ROOT.glob(f"{name}.*.sql"):
        dialect = override.name.removesuffix(".sql").rpartition(".")[2]
        texts[dialect] = render(name, dialect, **context)
    return statement_from_sql(name, texts, context)


def statement_from_sql(
    name: str, texts: Mapping[str, str], context: Mapping[str, str] | None = None
) -> DdlStatement:
    """A statement from its SQL in each dialect it is written in (`{dialect: sql}`); every
    version must create the same object, and it needs what any version needs."""
    context_pairs = tuple(sorted((context or {}).items()))
    created: set[tuple[Kind, Ref]] = set()
    needs: set[Ref] = set()
    for dialect, text in texts.items():
        tree: Any = sqlglot.parse_one(text, read=dialect)
        kind, creates, needed = _read(tree, name)
        created.add((kind, creates))
        needs |= needed
    if len(created) != 1:
        shown = " and ".join(sorted(_shown(ref) for _, ref in created))
        raise DdlOrderError(f"the versions of {name} for each engine create {shown}")
    ((kind, creates),) = created
    return DdlStatement(name, context_pairs, kind, creates, frozenset(needs - {creates}))


def _read(tree: exp.Expression, name: str) -> tuple[Kind, Ref, set[Ref]]:
    """What one parsed statement creates, and the schema and relations it needs."""
    kind = _KINDS.get(str(tree.args.get("kind")).upper()) if isinstance(tree, exp.Create) else None
    if kind is None:
        raise DdlOrderError(f"{name} creates no schema, table or view")
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if kind == "schema":  # sqlglot reads `create schema s` as a table whose db is s
        return kind, ("schema", _normal(target.db or target.name)), set()
    creates = _relation(target)
    needs: set[Ref] = {("schema", _normal(target.db))} if target.db else set()
    needs |= {_relation(like.this) for like in tree.find_all(exp.LikeProperty)}
    body = tree.expression
    if isinstance(body, exp.Query):  # CREATE TABLE … AS SELECT, or a view's body
        for scope in traverse_scope(body):  # CTEs are scopes, not tables: they need nothing
            needs |= {_relation(s) for s in scope.sources.values() if isinstance(s, exp.Table)}
    return kind, creates, needs


def order(statements: Iterable[DdlStatement]) -> tuple[DdlStatement, ...]:
    """`statements` each after what it needs: schemas, then tables, then views as far as their
    needs allow, ties broken by file name and template values (Kahn's algorithm)."""
    statements = list(statements)
    by_ref: dict[Ref, DdlStatement] = {}
    for statement in statements:
        if statement.creates in by_ref:
            twice = by_ref[statement.creates]
            raise DdlOrderError(f"{twice} and {statement} both create {_shown(statement.creates)}")
        by_ref[statement.creates] = statement
    waiting: dict[DdlStatement, set[DdlStatement]] = {}
    for statement in statements:
        missing = sorted(_shown(ref) for ref in statement.needs if ref not in by_ref)
        if missing:
            raise DdlOrderError(
                f"{statement} needs {', '.join(missing)}, which no file under sql/ddl/ or "
                "sql/intermediate/ creates"
            )
        waiting[statement] = {by_ref[ref] for ref in statement.needs}
    ready = [_key(s) for s, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    ordered: list[DdlStatement] = []
    while ready:
        statement = heapq.heappop(ready)[-1]
        ordered.append(statement)
        del waiting[statement]
        for other, needs in waiting.items():
            if statement in needs:
                needs.discard(statement)
                if not needs:
                    heapq.heappush(ready, _key(other))
    if waiting:
        raise DdlOrderError(f"these files need each other: {_cycle(waiting)}")
    return tuple(ordered)


def _key(statement: DdlStatement) -> tuple[int, str, tuple[tuple[str, str], ...], DdlStatement]:
    return (_RANK[statement.kind], statement.name, statement.context, statement)


def _cycle(waiting: dict[DdlStatement, set[DdlStatement]]) -> str:
    """One cycle among statements that never became ready, as `a -> b -> a`."""
    path = [min(waiting, key=_key)]
    while path.count(path[-1]) < 2:
        path.append(min(waiting[path[-1]], key=_key))
    start = path.index(path[-1])
    return " -> ".join(str(statement) for statement in path[start:])


def _relation(table: exp.Table) -> Ref:
    return ("relation", _normal(".".join(part for part in (table.db, table.name) if part)))


def _normal(name: str) -> str:
    """Redshift folds unquoted names to lower case, and the ETL quotes none in mixed case."""
    return name.lower()


def _shown(ref: Ref) -> str:
    space, name = ref
    return f"schema {name}" if space == "schema" else name

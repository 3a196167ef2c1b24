"""The Redshift contract: every statement the ETL sends to Redshift, as it sends it, obeys what
AWS documents for Redshift.

"As it sends it" means the rendered SQL files together with what code adds: the generated
column checks wrapped the way `run_check` sends them, the scoped marts and checks of a daily
run, the build and publish statements, the run lock's, the COPY text, and the inline queries.
Reading sql/ alone would miss most of these, so the statements are captured by running the
task functions themselves against a `CapturingSession` that sends nothing (only staging's
load, which needs a lake and S3, is mirrored). Each capture knows whether a transaction block
was open, so "inside a transaction" is what the code does, and the boundaries read from the
code (`AUTOCOMMIT`) are checked against it.

The rules, each a function returning violations and each shown to catch a bad example:
1. every statement parses as Redshift SQL (sqlglot, read="redshift"), one statement each;
2. QUALIFY only after an aliased relation or a WHERE;
3. no TRUNCATE, VACUUM or ALTER TABLE APPEND inside a transaction; VACUUM only after commit;
4. COPY only in the staging load, and only with the options AWS allows for Parquet;
5. every identifier at most 127 bytes, and no unquoted reserved word used as one;
6. every data type one Redshift supports, character widths within Redshift's limits.

The rig test (tests/rigs/test_redshift_contract_rig.py: PostgreSQL behind PgBouncer, the real
driver) runs a full load and a daily run, records every statement they send, and requires each to
be one this enumeration holds, so a statement the enumeration misses fails there rather than on
the cluster.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.tokens import Token, TokenType

import tasks.warehouse.connect
from tasks.analyse import ANALYSES, report_period, run_analysis
from tasks.artifacts import publish_staging_artifacts
from tasks.build import build_table
from tasks.check import check_table
from tasks.common.results import StageResult
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import (
    SqlFileNotFound,
    render,
    sql_path,
    statement_names,
)
from tasks.create_schema import create_schema
from tasks.lake.files import LakeSource
from tasks.model.tables import MARTS
from tasks.publish import publish, was_published
from tasks.scope import scope_changes
from tasks.stage import _clear_incoming, _count, _loaded_files, discard_incoming
from tasks.warehouse.base import Session
from tasks.warehouse.connect import run_lock
from tasks.warehouse.redshift.adapter import RedshiftAdapter
from tasks.warehouse.redshift.copy_sql import STAGED_TABLES
from tasks.warehouse.redshift.parquet import cluster_slices, copy_manifests, staged_columns
from tasks.warehouse.target import WarehouseTarget
from tests.helpers import renders
from tests.redshift_rig import RIG_ADAPTER

# --- What AWS documents ----------------------------------------------------------------------

# AWS, "Reserved words", https://docs.aws.amazon.com/redshift/latest/dg/r_pg_keywords.html:
# "You can use the reserved words with delimited identifiers (double quotation marks)." The
# whole list as the page gives it (the stored English copy cuts off after VERBOSE; the rest is
# from the same page's Japanese and Chinese copies, which list the same words). TIME, LEVEL,
# DAY, HOUR, MONTH, YEAR, WEEK and LENGTH are not on it; USER and TIMESTAMP are.
_RESERVED = """
    AES128 AES256 ALL ALLOWOVERWRITE ANALYSE ANALYZE AND ANY ARRAY AS ASC AUTHORIZATION AZ64
    BACKUP BETWEEN BINARY BLANKSASNULL BOTH BYTEDICT BZIP2 CASE CAST CHECK COLLATE COLUMN
    CONSTRAINT CREATE CREDENTIALS CROSS CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER
    CURRENT_USER_ID DEFAULT DEFERRABLE DEFLATE DEFRAG DELTA DELTA32K DESC DISABLE DISTINCT DO
    ELSE EMPTYASNULL ENABLE ENCODE ENCRYPT ENCRYPTION END EXCEPT EXPLICIT FALSE FOR FOREIGN
    FREEZE FROM FULL GLOBALDICT256 GLOBALDICT64K GRANT GROUP GZIP HAVING IDENTITY IGNORE ILIKE
    IN INITIALLY INNER INTERSECT INTERVAL INTO IS ISNULL JOIN LEADING LEFT LIKE LIMIT LOCALTIME
    LOCALTIMESTAMP LUN LUNS LZO LZOP MINUS MOSTLY16 MOSTLY32 MOSTLY8 NATURAL NEW NOT NOTNULL
    NULL NULLS OFF OFFLINE OFFSET OID OLD ON ONLY OPEN OR ORDER OUTER OVERLAPS PARALLEL
    PARTITION PERCENT PERMISSIONS PIVOT PLACING PRIMARY RAW READRATIO RECOVER REFERENCES
    REJECTLOG RESORT RESPECT RESTORE RIGHT SELECT SESSION_USER SIMILAR SNAPSHOT SOME SYSDATE
    SYSTEM TABLE TAG TDES TEXT255 TEXT32K THEN TIMESTAMP TO TOP TRAILING TRUE TRUNCATECOLUMNS
    UNION UNIQUE UNNEST UNPIVOT USER USING VERBOSE WALLET WHEN WHERE WITH WITHOUT
"""
RESERVED_WORDS = frozenset(_RESERVED.split())
# The same page: "While START and CONNECT are not reserved words, use delimited identifiers or
# AS if you're using START and CONNECT as table aliases in your query to avoid failure at
# runtime." sqlglot does not keep whether AS was written, so neither may be an unquoted alias.
UNSAFE_TABLE_ALIASES = frozenset({"START", "CONNECT"})

# AWS, "Names and identifiers", https://docs.aws.amazon.com/redshift/latest/dg/r_names.html:
# identifiers must "Be between 1 and 127 bytes in length, not including quotation marks for
# delimited identifiers."
MAX_IDENTIFIER_BYTES = 127

# AWS, "Data types", https://docs.aws.amazon.com/redshift/latest/dg/c_Supported_data_types.html:
# SMALLINT, INTEGER, BIGINT, DECIMAL (NUMERIC), REAL, DOUBLE PRECISION, BOOLEAN, CHAR, VARCHAR,
# DATE, TIMESTAMP, TIMESTAMPTZ, TIME, TIMETZ, SUPER, VARBYTE; as sqlglot names them when it
# reads Redshift (NUMERIC reads as DECIMAL, REAL as FLOAT, VARBYTE as VARBINARY).
_T = exp.DataType.Type
REDSHIFT_TYPES = frozenset(
    {
        _T.SMALLINT,
        _T.INT,
        _T.BIGINT,
        _T.DECIMAL,
        _T.FLOAT,
        _T.DOUBLE,
        _T.BOOLEAN,
        _T.CHAR,
        _T.VARCHAR,
        _T.DATE,
        _T.TIMESTAMP,
        _T.TIMESTAMPTZ,
        _T.TIME,
        _T.TIMETZ,
        _T.SUPER,
        _T.VARBINARY,
    }
)
# AWS, "Character types", https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html:
# a VARCHAR holds at most 65535 bytes, a CHAR at most 4096.
MAX_CHARACTER_BYTES = {_T.VARCHAR: 65535, _T.CHAR: 4096}

# AWS, "COPY from columnar data formats",
# https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html:
# "Only the following COPY parameters are supported: ACCEPTINVCHARS [...], FILLRECORD, FROM,
# IAM_ROLE, CREDENTIALS, STATUPDATE, MANIFEST, EXPLICIT_IDS" (and FORMAT AS PARQUET, which
# makes it a columnar COPY); "ACCEPTANYDATE and MAXERROR aren't supported for columnar data
# types", and it "does not support the REGION parameter".
COPY_COLUMNAR_PARAMETERS = frozenset(
    {
        "FROM",
        "IAM_ROLE",
        "CREDENTIALS",
        "FORMAT",
        "AS",
        "PARQUET",
        "MANIFEST",
        "ACCEPTINVCHARS",
        "FILLRECORD",
        "STATUPDATE",
        "EXPLICIT_IDS",
    }
)
STATUPDATE_VALUES = frozenset({"ON", "OFF", "TRUE", "FALSE"})
NEVER_IN_A_COLUMNAR_COPY = frozenset({"MAXERROR", "REGION", "ACCEPTANYDATE"})

# Statements sqlglot has no grammar for (it reads them as an opaque `Command`), with the words
# of their syntax that are not names: VACUUM
# (https://docs.aws.amazon.com/redshift/latest/dg/r_VACUUM_command.html) and LOCK
# (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html).
COMMAND_KEYWORDS = {
    "VACUUM": frozenset(
        {"FULL", "SORT", "ONLY", "DELETE", "REINDEX", "RECLUSTER", "TO", "PERCENT", "BOOST"}
    ),
    "LOCK": frozenset({"TABLE"}),
}

# --- Every statement as it is sent -----------------------------------------------------------

Kind = Literal["execute", "query", "control"]
Rows = list[tuple[Any, ...]]
_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "END"})


@dataclass(frozen=True)
class Sent:
    """One statement as the ETL sends it: `site` is the code that sends it, `label` what
    `Session.execute` logs it as ("" for queries), and `in_transaction` whether a transaction
    block was open on its session. `kind`: executed, queried, or transaction control."""

    site: str
    label: str
    sql: str
    in_transaction: bool
    kind: Kind

    def __str__(self) -> str:
        where = "in a transaction" if self.in_transaction else "autocommit"
        return f"[{self.site}] {self.label or self.kind} ({where}):\n{self.sql}"


def is_control(sql: str) -> bool:
    """BEGIN, COMMIT or ROLLBACK: what opens and closes a transaction block."""
    return sql.strip().rstrip(";").upper() in _CONTROL


class TransactionState:
    """Whether a session has a transaction block open, from the statements it sent."""

    def __init__(self) -> None:
        self.open = False

    def sent(self, sql: str) -> bool:
        """Note a statement; returns whether it was sent inside a transaction block."""
        was_open = self.open
        word = sql.strip().rstrip(";").upper()
        if word == "BEGIN":
            self.open = True
        elif word in {"COMMIT", "ROLLBACK", "END"}:
            self.open = False
        return was_open


class CapturingSession(Session):
    """A session that sends nothing: it keeps every statement the code would send, whether a
    transaction block was open, and answers queries with `answer(sql)`."""

    def __init__(self, dialect: str, site: str, answer: Callable[[str], Rows]) -> None:
        super().__init__(conn=None, dialect=dialect)
        self.site = site
        self.sent: list[Sent] = []
        self._answer = answer
        self._state = TransactionState()
        self._label: str | None = None

    def execute(
        self, sql: str, params: Mapping[str, Any] | None = None, label: str = "statement"
    ) -> None:
        self._label = label
        try:
            super().execute(sql, params, label=label)
        finally:
            self._label = None

    def _keep(self, sql: str) -> None:
        if self._label is not None:
            kind: Kind = "execute"
        else:
            kind = "control" if is_control(sql) else "query"
        in_transaction = self._state.sent(sql)
        self.sent.append(Sent(self.site, self._label or "", sql, in_transaction, kind))

    def _execute(self, sql: str, params: Mapping[str, Any] | None) -> None:
        self._keep(sql)

    def _fetch(self, sql: str, params: Mapping[str, Any] | None) -> list[Any]:
        self._keep(sql)
        return self._answer(sql)

    def _described(self, sql: str, params: Mapping[str, Any] | None) -> tuple[list[str], list]:
        self._keep(sql)
        return [], []


def _answers(dialect: str) -> Callable[[str], Rows]:
    """What the capture answers: an older warehouse's staging columns (so create schema sends
    its ADD COLUMNs), one offending row per check (so its sample query is sent too), empty
    staging results, a songplays period for the report, and 0 for any count."""
    named: dict[str, Rows] = {
        render("staging/staging_columns", dialect): [
            ("songs", "song_id"),
            ("songs_incoming", "song_id"),
        ],
        render("staging/rejected_by_reason", dialect): [],
        render("staging/unreadable_files", dialect): [],
        render("staging/lake_records", dialect): [(0, 0)],
        render("staging/loaded_files", dialect): [],
    }

    def answer(sql: str) -> Rows:
        if sql in named:
            return named[sql]
        if sql.startswith("select count(*) from ("):  # run_check's count of a check's rows
            return [(1,)]
        if "min(start_time), max(start_time)" in sql:  # tasks.analyse.report_period
            return [(datetime(2018, 11, 1), datetime(2018, 11, 30))]
        return [(0,)]

    return answer


@contextmanager
def capturing(site: str, dialect: str) -> Iterator[CapturingSession]:
    """Every `connect` the ETL's modules imported yields one capture while the block runs."""
    capture = CapturingSession(dialect, site, _answers(dialect))

    @contextmanager
    def connect(target: WarehouseTarget, read_only: bool = False) -> Iterator[Session]:
        yield capture

    def session(self: RedshiftAdapter, target: WarehouseTarget, read_only: bool = False):
        return connect(target, read_only)

    real = tasks.warehouse.connect.connect
    with pytest.MonkeyPatch.context() as patch:
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in {"tasks", "flows"} and getattr(module, "connect", 0) is real:
                patch.setattr(module, "connect", connect)
        patch.setattr(RedshiftAdapter, "session", session)  # the run lock's own session
        yield capture


# An S3 bucket name has 3 to 63 characters, and copy_statement refuses a shorter one.
COPY_VALUES = {
    "manifest_uri": "s3://bucket/p/x.manifest",
    "iam_role": "arn:aws:iam::123456789012:role/r",
}
DAY = date(2018, 11, 2)


def _stage(capture: CapturingSession, run: RunSpec, kind: str) -> None:
    """Staging's statements on the cluster, as `RedshiftAdapter.staging` and
    `tasks.warehouse.redshift.parquet.load_into_redshift` send them, without the lake and S3:
    the daily run's staged-file versions, the cluster's columns and slices, then
    `copy_manifests` (the clear and a COPY per staged table in one transaction), then the
    counts. (The order is a
    mirror of load_into_redshift's; the rig test checks it.)"""
    if run.day is not None:
        _loaded_files(run, kind)
    staged_columns(capture)
    cluster_slices(capture)
    manifests = dict.fromkeys(STAGED_TABLES, COPY_VALUES["manifest_uri"])
    copy_manifests(
        capture,
        manifests,
        COPY_VALUES["iam_role"],
        lambda w: _clear_incoming(w, kind=kind, replace_all=run.day is None),
    )
    _count(capture, kind, [])


def _staged() -> dict[str, StageResult]:
    return {kind: StageResult(kind, 1, 1, 0, 0.0) for kind in ("events", "songs")}


Step = Callable[[CapturingSession], object]


def sent_statements(dialect: str) -> list[Sent]:
    """Everything the run lock, a full load, a daily run and a report send, in the flow's
    order, by running the tasks (their `.fn`, without Prefect) against captures."""
    target = WarehouseTarget(
        adapter=RIG_ADAPTER if dialect == "postgres" else "redshift", block="env"
    )
    full = RunSpec(lake=LakeSource("lake"), warehouse=target)
    daily = RunSpec(lake=LakeSource("lake"), warehouse=target, day=DAY)
    sites: list[tuple[str, Step]] = [("run lock", lambda _: _locked(target))]
    for run in (full, daily):
        steps: list[tuple[str, Step]] = [
            ("create schema", lambda _, run=run: create_schema.fn(run)),
            ("stage events", lambda c, run=run: _stage(c, run, "events")),
            ("stage songs", lambda c, run=run: _stage(c, run, "songs")),
            ("report staging", lambda _, run=run: publish_staging_artifacts.fn(run, _staged())),
        ]
        if run.incremental:
            steps.append(("scope changes", lambda _, run=run: scope_changes.fn(run)))
        steps += [(f"build {t}", lambda _, run=run, t=t: build_table.fn(run, t)) for t in MARTS]
        steps += [(f"check {t}", lambda _, run=run, t=t: check_table.fn(run, t)) for t in MARTS]
        steps.append(("publish", lambda _, run=run: publish.fn(run, _staged())))
        sites += [(f"{site} ({run.partition_label})", step) for site, step in steps]
    start, end = datetime(2018, 11, 1), datetime(2018, 12, 1)
    # a cancelled run: was its publish committed, then its staged rows deleted (the flow's _stop)
    sites.append(("cancel", lambda _: (was_published(full), discard_incoming(full))))
    sites.append(("report", lambda _: report_period.fn(target, None, None)))
    for name in ANALYSES:
        sites.append((f"analyse {name}", lambda _, n=name: run_analysis.fn(target, n, start, end)))
    statements: list[Sent] = []
    for site, step in sites:
        with capturing(site, dialect) as capture:
            step(capture)
        statements += capture.sent
    return statements


def _locked(target: WarehouseTarget) -> None:
    """The run lock's own statements: its table created if missing, the lock taken, probed
    before publishing (`RunLock.check`, as the flow does), released."""
    with run_lock(target, heartbeat_seconds=1800) as lock:
        lock.check()


# Read from the code: the statements the ETL executes on the autocommit session, by site and
# label. Everything else it executes is inside a transaction block: create_schema runs in
# `with connect(...) as wh, wh.transaction():`; staging_redshift.load_into_redshift runs the
# clear and every COPY in `with wh.transaction():`, as do scope_changes, marts.build_table and
# publish.publish; run_lock's LOCK, heartbeat and release follow the BEGIN it sends itself.
AUTOCOMMIT: tuple[tuple[str, str], ...] = (
    # warehouse._create_lock_table: before the lock's BEGIN, so a racing CREATE fails alone
    ("run lock", r"ddl/schema_meta|ddl/run_lock"),
    # RedshiftAdapter.reclaim: after the publish commits (VACUUM cannot run in a transaction block)
    (r"publish \(full\)", r"(vacuum|analyze) .+"),
)
# The only statements that may VACUUM: publish's reclaim, after the commit.
AFTER_COMMIT: tuple[tuple[str, str], ...] = ((r"publish \(full\)", r"vacuum .+"),)


def _declared(table: tuple[tuple[str, str], ...], statement: Sent) -> bool:
    return any(
        re.fullmatch(site, statement.site) and re.fullmatch(label, statement.label)
        for site, label in table
    )


@pytest.fixture(scope="module")
def sent() -> list[Sent]:
    """Everything the ETL sends to Redshift (dialect "redshift": the SQL as written)."""
    return sent_statements("redshift")


Parsed = list[tuple[Sent, exp.Expression]]


@pytest.fixture(scope="module")
def parsed(sent: list[Sent]) -> Parsed:
    """Each statement with the tree sqlglot reads from it, as the rules look at it."""
    return [(statement, read_tree(statement.sql)) for statement in sent]


# --- The rules -------------------------------------------------------------------------------


def read_tree(sql: str) -> exp.Expression:
    """The one statement in `sql`, as sqlglot reads Redshift (an opaque `Command` where it has
    no grammar for it); what the other rules look at."""
    trees = [tree for tree in sqlglot.parse(sql, read="redshift") if tree is not None]
    if len(trees) != 1:
        raise AssertionError(f"{len(trees)} statements, not one")
    return trees[0]


def parse_redshift(sql: str) -> exp.Expression:
    """Rule 1: the statement parses as Redshift SQL, and is one statement (comments are fine).
    sqlglot reads VACUUM and LOCK as an opaque `Command` (it has no grammar for them); any
    other statement it can only read that way is refused."""
    tree = read_tree(sql)
    if isinstance(tree, exp.Command) and tree.name.upper() not in COMMAND_KEYWORDS:
        raise AssertionError(f"sqlglot cannot read {tree.name.upper()} as Redshift SQL")
    return tree


def qualify_violations(tree: exp.Expression) -> list[str]:
    """Rule 2. AWS, "QUALIFY clause",
    https://docs.aws.amazon.com/redshift/latest/dg/r_QUALIFY_clause.html: "If you're using the
    QUALIFY clause directly after the FROM clause, the FROM relation name must have an alias
    specified before the QUALIFY clause." Checked on every SELECT with a QUALIFY and no WHERE:
    its FROM relation must have an alias, and so must a joined relation with no ON or USING
    (QUALIFY would follow it directly). Stricter than the page when GROUP BY or HAVING stands
    between them, which the ETL's SQL never needs."""
    problems = []
    for select in tree.find_all(exp.Select):
        if not select.args.get("qualify") or select.args.get("where"):
            continue
        source = select.args.get("from_")
        relations = [source.this] if source else []
        joins = select.args.get("joins") or []
        relations += [j.this for j in joins if not (j.args.get("on") or j.args.get("using"))]
        for relation in relations:
            if not relation.alias:
                problems.append(f"QUALIFY after unaliased {relation.sql('redshift')}")
    return problems


def leading_word(sql: str) -> str:
    """The statement's first keyword as sent (TRUNCATE, VACUUM, ALTER, COPY, ...)."""
    words = _words(sql)
    return words[0] if words else ""


def transaction_violations(statement: Sent, tree: exp.Expression) -> list[str]:
    """Rule 3. Inside a transaction block: no TRUNCATE (AWS, TRUNCATE,
    https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html: "be aware that TRUNCATE
    commits the transaction in which it is run"), no VACUUM (AWS, VACUUM,
    https://docs.aws.amazon.com/redshift/latest/dg/r_VACUUM_command.html: "You can't run VACUUM
    within a transaction block"), no ALTER TABLE APPEND (AWS, ALTER TABLE APPEND,
    https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE_APPEND.html: it commits
    automatically and cannot run within a transaction block). And VACUUM only where the code
    means it to run: publish's reclaim, after the commit (`AFTER_COMMIT`)."""
    problems = []
    words = _words(statement.sql)
    appends = words[:2] == ["ALTER", "TABLE"] and "APPEND" in words
    word = words[0] if words else ""
    if statement.in_transaction:
        if isinstance(tree, exp.TruncateTable) or word == "TRUNCATE":
            problems.append("TRUNCATE inside a transaction (it commits it)")
        if word == "VACUUM":
            problems.append("VACUUM inside a transaction block")
        if appends:
            problems.append("ALTER TABLE APPEND inside a transaction block")
    if word == "VACUUM" and not _declared(AFTER_COMMIT, statement):
        problems.append("VACUUM outside publish's after-commit reclaim")
    return problems


def _words(sql: str) -> list[str]:
    """The statement's tokens other than literals, upper-cased (comments are not tokens)."""
    kept = (TokenType.STRING, TokenType.NUMBER)
    return [
        t.text.upper() for t in sqlglot.tokenize(sql, read="redshift") if t.token_type not in kept
    ]


def copy_violations(statement: Sent, tree: exp.Expression) -> list[str]:
    """Rule 4. A COPY only from staging's load (label `copy <table>`), and only with the
    parameters AWS supports for a columnar COPY (`COPY_COLUMNAR_PARAMETERS`), FORMAT AS PARQUET
    among them, no MAXERROR, no REGION."""
    is_copy = isinstance(tree, exp.Copy) or leading_word(statement.sql) == "COPY"
    from_staging = re.fullmatch(r"stage (events|songs) \(.+\)", statement.site) and re.fullmatch(
        r"copy [a-z_]+", statement.label
    )
    if not is_copy:
        return ["a `copy …` label on a statement that is no COPY"] if from_staging else []
    if not from_staging:
        return ["COPY outside staging's load into Redshift"]
    words = _words(statement.sql)
    into = words.index("FROM") if "FROM" in words else len(words)
    options = words[into:]
    never = sorted(NEVER_IN_A_COLUMNAR_COPY & set(options))
    problems = [f"{word} is not supported for Parquet" for word in never]
    for before, word in zip(["", *options], options, strict=False):
        if word in COPY_COLUMNAR_PARAMETERS or (
            before == "STATUPDATE" and word in STATUPDATE_VALUES
        ):
            continue
        if word not in NEVER_IN_A_COLUMNAR_COPY:
            problems.append(f"{word} is not a COPY parameter AWS lists for columnar formats")
    if "FORMAT AS PARQUET" not in " ".join(options):
        problems.append("no FORMAT AS PARQUET")
    return problems


def identifier_violations(tree: exp.Expression) -> list[str]:
    """Rule 5. Every identifier at most 127 bytes (AWS, "Names and identifiers",
    https://docs.aws.amazon.com/redshift/latest/dg/r_names.html), and no unquoted identifier a
    reserved word (AWS, "Reserved words",
    https://docs.aws.amazon.com/redshift/latest/dg/r_pg_keywords.html; a standard identifier
    must "Not be a reserved SQL keyword"), nor START or CONNECT as an unquoted table alias.
    sqlglot reads some reserved words as expressions (`user` as CURRENT_USER), so a column
    definition whose name is not an identifier is refused too."""
    names: list[tuple[str, bool]] = []
    if isinstance(tree, exp.Command):
        names = _command_names(tree)
    else:
        names = [(i.name, bool(i.quoted)) for i in tree.find_all(exp.Identifier)]
    problems = []
    for name, quoted in names:
        if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            problems.append(f"identifier of {len(name.encode())} bytes: {name[:40]}…")
        if not quoted and name.upper() in RESERVED_WORDS:
            problems.append(f"reserved word {name.upper()} as an unquoted identifier")
    for column in tree.find_all(exp.ColumnDef):
        if not isinstance(column.this, exp.Identifier):
            problems.append(f"column name {column.this.sql('redshift')} is not an identifier")
    for alias in tree.find_all(exp.TableAlias):
        ident = alias.this
        unquoted = isinstance(ident, exp.Identifier) and not ident.quoted
        if unquoted and ident.name.upper() in UNSAFE_TABLE_ALIASES:
            problems.append(f"{ident.name.upper()} as an unquoted table alias")
    return problems


_PUNCTUATION = (TokenType.DOT, TokenType.NUMBER, TokenType.COMMA)


def _command_names(tree: exp.Command) -> list[tuple[str, bool]]:
    """The names in a VACUUM or LOCK: its tokens, less the words of its syntax."""
    keywords = COMMAND_KEYWORDS.get(tree.name.upper(), frozenset())
    tokens: list[Token] = sqlglot.tokenize(tree.expression.name, read="redshift")
    names = []
    for token in tokens:
        if token.token_type == TokenType.IDENTIFIER:
            names.append((token.text, True))
        elif token.token_type not in _PUNCTUATION and token.text.upper() not in keywords:
            names.append((token.text, False))
    return names


def type_violations(tree: exp.Expression) -> list[str]:
    """Rule 6. Every data type (column definitions, ADD COLUMN, CAST) one Redshift supports
    (`REDSHIFT_TYPES`, AWS "Data types"), and VARCHAR(n) and CHAR(n) within Redshift's widths
    (AWS "Character types")."""
    problems = []
    for kind in tree.find_all(exp.DataType):
        if kind.this not in REDSHIFT_TYPES:
            problems.append(f"{kind.sql('redshift')} is not a Redshift data type")
            continue
        limit = MAX_CHARACTER_BYTES.get(kind.this)
        if limit and kind.expressions:
            width = kind.expressions[0].this
            if isinstance(width, exp.Literal) and width.is_int and int(width.name) > limit:
                problems.append(f"{kind.sql('redshift')} is over {limit} bytes")
    return problems


# --- The checkers catch what they must -------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "parses"),
    [
        ("-- a comment first\nselect 1", True),
        ('vacuum full "users" to 100 percent', True),
        ("lock sparkify_meta.run_lock", True),
        ("select 1; select 2", False),
        ("select * from", False),
        ("alter table songs append from sparkify_build.songs", False),  # only as a Command
    ],
)
def test_the_parse_rule_refuses_what_is_not_one_redshift_statement(sql: str, parses: bool) -> None:
    try:
        parse_redshift(sql)
    except (AssertionError, sqlglot.errors.ParseError):
        assert not parses
    else:
        assert parses


def _example(sql: str, in_transaction: bool = True, site: str = "example", label: str = "") -> Sent:
    return Sent(site, label, sql, in_transaction, "execute")


@pytest.mark.parametrize(
    ("sql", "flagged"),
    [
        ("select * from plays qualify row_number() over (order by x) = 1", True),
        ("select * from plays as p qualify row_number() over (order by x) = 1", False),
        ("select * from plays p qualify row_number() over (order by x) = 1", False),
        ("select * from plays where x > 0 qualify row_number() over (order by x) = 1", False),
        ("with t as (select * from plays qualify rank() over (order by x) = 1) select * from t",
         True),
        ("select * from a as a cross join b qualify row_number() over (order by x) = 1", True),
        ("select * from a as a join b on a.x = b.x qualify row_number() over (order by a.x) = 1",
         False),
    ],
)  # fmt: skip
def test_the_qualify_rule_flags_an_unaliased_relation_before_qualify(
    sql: str, flagged: bool
) -> None:
    assert bool(qualify_violations(read_tree(sql))) is flagged


@pytest.mark.parametrize(
    ("sql", "in_transaction", "flagged"),
    [
        ("truncate sparkify_staging.events", True, True),
        ("truncate sparkify_staging.events", False, False),
        ('vacuum full "users" to 100 percent', True, True),
        ('vacuum full "users" to 100 percent', False, True),  # not publish's reclaim
        ("alter table songs append from sparkify_build.songs", True, True),
        ("alter table songs append from sparkify_build.songs", False, False),
        ('delete from "users"', True, False),
        ("alter table sparkify_staging.songs add column line_number integer", True, False),
    ],
)
def test_the_transaction_rule_flags_what_commits_or_cannot_run_in_one(
    sql: str, in_transaction: bool, flagged: bool
) -> None:
    statement = _example(sql, in_transaction)
    assert bool(transaction_violations(statement, read_tree(sql))) is flagged


def test_the_transaction_rule_allows_vacuum_only_after_publish_commits() -> None:
    sql = 'vacuum full "users" to 100 percent'
    reclaim = _example(sql, False, site="publish (full)", label="vacuum users")
    assert transaction_violations(reclaim, read_tree(sql)) == []
    inside = _example(sql, True, site="publish (full)", label="vacuum users")
    assert transaction_violations(inside, read_tree(sql)) == ["VACUUM inside a transaction block"]


_COPY = "copy sparkify_staging.events_incoming\nfrom 's3://b/m'\niam_role 'arn:aws:iam::1:role/r'\n"


@pytest.mark.parametrize(
    ("options", "flagged"),
    [
        ("format as parquet\nmanifest", False),
        ("format as parquet\nmanifest\nstatupdate off\nacceptinvchars", False),
        ("format as parquet\nmanifest\nmaxerror 10", True),
        ("format as parquet\nmanifest\nregion 'us-east-1'", True),
        ("format as parquet\nmanifest\ncompupdate off", True),
        ("format as json 'auto'\nmanifest", True),
        ("manifest", True),
    ],
)
def test_the_copy_rule_allows_only_the_columnar_parameters(options: str, flagged: bool) -> None:
    statement = _example(_COPY + options, site="stage events (full)", label="copy events_incoming")
    assert bool(copy_violations(statement, read_tree(statement.sql))) is flagged


def test_the_copy_rule_refuses_a_copy_anywhere_but_staging() -> None:
    statement = _example(_COPY + "format as parquet\nmanifest", site="publish (full)")
    assert copy_violations(statement, read_tree(statement.sql)) == [
        "COPY outside staging's load into Redshift"
    ]


@pytest.mark.parametrize(
    ("sql", "flagged"),
    [
        ('select "user" from t', False),
        ("select a as user from t", True),
        ("create table t (user varchar(10))", True),
        ('select "time".hour, level, day from "time"', False),
        ("select 1 from t as start", True),
        ('select 1 from t as "start"', False),
        (f"select 1 as {'a' * 127}", False),
        (f"select 1 as {'a' * 128}", True),
        (f'select 1 as "{"é" * 64}"', True),  # 128 bytes in 64 characters
        ("lock sparkify_meta.run_lock", False),
        ("lock sparkify_meta.user", True),
    ],
)
def test_the_identifier_rule_flags_long_names_and_unquoted_reserved_words(
    sql: str, flagged: bool
) -> None:
    assert bool(identifier_violations(read_tree(sql))) is flagged


@pytest.mark.parametrize(
    ("sql", "flagged"),
    [
        ("create table t (a varchar(max), b varchar(65535), c char(4096), d double precision)",
         False),
        ("create table t (a smallint, b bigint, c numeric(18, 3), d real, e boolean, f date)",
         False),
        ("create table t (a timestamp, b timestamptz, c time, d timetz, e super, f varbyte(8))",
         False),
        ("create table t (a varchar(65536))", True),
        ("create table t (a char(4097))", True),
        ("select cast(x as json) from t", True),
        ("create table t (a uuid)", True),
    ],
)  # fmt: skip
def test_the_type_rule_flags_types_redshift_lacks(sql: str, flagged: bool) -> None:
    assert bool(type_violations(read_tree(sql))) is flagged


# --- The contract, over every statement the ETL sends ---------------------------------------


def _report(violations: list[tuple[Sent, str]]) -> str:
    return "\n\n".join(f"{problem}\n{statement}" for statement, problem in violations)


def test_every_statement_parses_as_one_redshift_statement(sent: list[Sent]) -> None:
    failures = []
    for statement in sent:
        try:
            parse_redshift(statement.sql)
        except (AssertionError, sqlglot.errors.ParseError) as exc:
            failures.append((statement, str(exc).splitlines()[0]))
    assert not failures, _report(failures)


def test_qualify_follows_an_aliased_relation_or_a_where(parsed: Parsed) -> None:
    violations = [(s, p) for s, tree in parsed for p in qualify_violations(tree)]
    assert not violations, _report(violations)
    assert sum("QUALIFY" in s.sql.upper() for s, _ in parsed) > 0  # the rule saw a QUALIFY


def test_no_statement_inside_a_transaction_commits_it_or_cannot_run_in_one(parsed: Parsed) -> None:
    violations = [(s, p) for s, tree in parsed for p in transaction_violations(s, tree)]
    assert not violations, _report(violations)


def test_the_declared_transaction_boundaries_are_the_codes(sent: list[Sent]) -> None:
    """`AUTOCOMMIT` (read from the code) says which executed statements run outside a
    transaction; the captures say where the code actually sent them."""
    wrong = [
        (s, "declared autocommit" if _declared(AUTOCOMMIT, s) else "declared in a transaction")
        for s in sent
        if s.kind == "execute"
        and not is_control(s.sql)
        and s.in_transaction == _declared(AUTOCOMMIT, s)
    ]
    assert not wrong, _report(wrong)
    assert any(_declared(AFTER_COMMIT, s) for s in sent)  # the reclaim was captured


def test_copy_only_in_staging_and_only_with_parquet_parameters(parsed: Parsed) -> None:
    violations = [(s, p) for s, tree in parsed for p in copy_violations(s, tree)]
    assert not violations, _report(violations)
    copies = {s.label for s, _ in parsed if s.label.startswith("copy ")}
    assert copies == {f"copy {table}" for table in STAGED_TABLES}


def test_every_identifier_is_valid_in_redshift(parsed: Parsed) -> None:
    violations = [(s, p) for s, tree in parsed for p in identifier_violations(tree)]
    assert not violations, _report(violations)


def test_every_data_type_is_a_redshift_type(parsed: Parsed) -> None:
    violations = [(s, p) for s, tree in parsed for p in type_violations(tree)]
    assert not violations, _report(violations)


# --- The enumeration is complete -------------------------------------------------------------


def redshift_files() -> list[str]:
    """Every statement under sql/ that reaches Redshift: a name with a Redshift file (`.duckdb.sql`
    overrides and the `.j2` DuckDB templates never do; the COPY template is in COPY's text)."""
    names = []
    for name in statement_names():
        try:
            sql_path(name, "redshift")
        except SqlFileNotFound:
            continue  # a DuckDB-only statement (sql/parse/, on the worker)
        names.append(name)
    return names


def test_every_redshift_sql_file_is_in_what_the_etl_sends(sent: list[Sent]) -> None:
    """In every form its template takes: a full load's and a daily run's, each table its
    variables may name, each declared relationship's."""
    texts = [statement.sql for statement in sent]
    unsent = [
        name
        for name in redshift_files()
        for rendered in renders(name, "redshift")
        if not any(rendered in t for t in texts)
    ]
    assert not unsent, f"files under sql/ no captured statement sends: {unsent}"


def test_the_capture_holds_a_full_load_a_daily_run_and_the_report(sent: list[Sent]) -> None:
    labels = {s.label for s in sent}
    for table in MARTS:
        assert f"publish {table}: delete" in labels and f"publish {table}: delete changed" in labels
        assert f"vacuum {table}" in labels and f"marts/{table}" in labels
    assert {"run lock", "run lock heartbeat", "run lock release", "changed_users"} <= labels
    assert any(s.sql.startswith("alter table sparkify_staging.songs add column") for s in sent)
    samples = [s for s in sent if s.site.startswith("check ") and s.sql.endswith("limit 5")]
    assert samples  # a failing check's sample query is sent too
    # the daily run's scoped statements: the mart reading the events at changed instants, a
    # lookup into another table's next state, the delete of the changed keys
    daily = f"({DAY.isoformat()})"

    def at(site: str, label: str = "") -> list[Sent]:
        return [s for s in sent if s.site == f"{site} {daily}" and (not label or s.label == label)]

    changed_instants = "ts in (select ts from sparkify_staging.changed_play_times)"
    assert changed_instants in at("build songplays", "marts/songplays")[0].sql
    assert any("from sparkify_staging.changed_users" in s.sql for s in at("check songplays"))
    assert all(s.in_transaction for s in at("publish", "publish songplays: delete changed"))
    assert at("publish", "publish songplays: delete changed")

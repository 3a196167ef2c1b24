"""On the rig: nothing the ETL sends to Redshift is missing from the enumeration of the Redshift
contract (tests/unit/test_redshift_contract.py, which checks AWS's rules over it without a
server). A full load and a daily run through the real driver (PostgreSQL behind PgBouncer)
record every statement they send, and each must be one the enumeration holds, so a statement it
misses fails here rather than on the cluster."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tasks.build import build_table
from tasks.check import check_table
from tasks.common.run_spec import RunSpec
from tasks.create_schema import create_schema
from tasks.lake.files import LakeSource
from tasks.model.tables import MARTS
from tasks.publish import publish
from tasks.scope import scope_changes
from tasks.warehouse.base import Session
from tasks.warehouse.connect import adapter_for, run_lock
from tasks.warehouse.redshift.session import RedshiftSession
from tasks.warehouse.target import WarehouseTarget
from tests.redshift_rig import reset_rig_warehouse
from tests.rigs.test_redshift_warehouse import _built_on_rig, stage_on_rig, staging_env
from tests.unit.test_redshift_contract import DAY, TransactionState, is_control, sent_statements

# The rig's own stand-in for Redshift's COPY (tests/parquet_copy.py) asks for column types.
# --- On the rig: nothing the ETL sends is missing from the enumeration -----------------------


# The rig's own stand-in for Redshift's COPY (tests/parquet_copy.py) asks for column types.
RIG_EMULATION = "select column_name, data_type from information_schema.columns where table_schema"
_COPY_VALUE_LINE = re.compile(r"^(from|iam_role) '[^']*'$", re.MULTILINE)


def _without_copy_values(sql: str) -> str:
    """A COPY's manifest URI and role differ between runs; everything else must match."""
    return _COPY_VALUE_LINE.sub(r"\1 '…'", sql)


class Recorder:
    """Every statement the ETL sends through the real driver: `executed` (label, SQL, inside a
    transaction block) through `Session.execute`, `sent` every text the driver sent."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, str, bool]] = []
        self.sent: list[str] = []
        self._states: dict[int, TransactionState] = {}

    def state(self, session: Session) -> TransactionState:
        return self._states.setdefault(id(session), TransactionState())

    @contextmanager
    def recording(self) -> Iterator[Recorder]:
        execute, described = Session.execute, RedshiftSession._described
        recorder = self

        def recorded_execute(
            self: Session, sql: str, params: Any = None, label: str = "statement"
        ) -> None:
            if isinstance(self, RedshiftSession):  # not the worker's scratch DuckDB
                recorder.executed.append((label, sql, recorder.state(self).open))
            execute(self, sql, params, label=label)

        def recorded_described(
            self: RedshiftSession, sql: str, params: Any, rows: bool = True
        ) -> tuple[list[str], list]:
            recorder.state(self).sent(sql)
            recorder.sent.append(sql)
            return described(self, sql, params, rows)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Session, "execute", recorded_execute)
            patch.setattr(RedshiftSession, "_described", recorded_described)
            yield self


@pytest.fixture
def rig_target(
    redshift_rig: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> WarehouseTarget:
    """The rig as tests/test_redshift_warehouse.py's `rig_target` sets it up: SPARKIFY_REDSHIFT_*
    with COPY settings that put the parts on the S3 server, every schema the ETL owns dropped."""
    for key, value in staging_env(redshift_rig).items():
        monkeypatch.setenv(key, value)
    return reset_rig_warehouse()


def test_every_statement_the_etl_sends_on_the_rig_is_in_the_enumeration(
    rig_target: WarehouseTarget, small_lake: Path, tmp_path: Path
) -> None:
    """A full load and then a daily run, each under the run lock as the flow holds it, through
    redshift_connector: every label executed, every (label, SQL, transaction) triple and every
    other text sent must be in `sent_statements` for the rig's dialect, so a new statement the
    enumeration (and so the contract) misses fails here."""
    recorder = Recorder()
    with recorder.recording(), run_lock(rig_target) as lock:
        full, staged = _built_on_rig(rig_target, small_lake, tmp_path)
        for table in MARTS:
            check_table.fn(full, table)
        lock.check()
        publish.fn(full, staged)
    lake = Path(shutil.copytree(small_lake, tmp_path / "lake"))
    log = lake / "log_data" / "2018" / "11" / f"{DAY.isoformat()}-events.json"
    log.write_text("\n".join(log.read_text().splitlines()[::2]) + "\n")  # half the day's events
    daily = RunSpec(lake=LakeSource(str(lake)), warehouse=rig_target, day=DAY)
    with recorder.recording(), run_lock(rig_target) as lock:
        create_schema.fn(daily)
        staged = stage_on_rig(daily)
        scope_changes.fn(daily)
        for table in MARTS:
            build_table.fn(daily, table)
        for table in MARTS:
            check_table.fn(daily, table)
        lock.check()
        publish.fn(daily, staged)

    expected = sent_statements(adapter_for(rig_target).dialect)
    executed = {(s.label, _without_copy_values(s.sql), s.in_transaction)
                for s in expected if s.kind == "execute"}  # fmt: skip
    labels = {label for label, _, _ in executed}
    texts = {_without_copy_values(s.sql) for s in expected}
    seen = [(label, _without_copy_values(sql), inside) for label, sql, inside in recorder.executed]
    assert {label for label, _, _ in seen} <= labels, {label for label, _, _ in seen} - labels
    unknown = [triple for triple in seen if triple not in executed]
    assert not unknown, "\n\n".join(f"{label} (in a transaction: {inside}):\n{sql}"
                                    for label, sql, inside in unknown)  # fmt: skip
    queries = [
        sql
        for sql in map(_without_copy_values, recorder.sent)
        if not is_control(sql) and not sql.startswith(RIG_EMULATION) and sql not in texts
    ]
    assert not queries, "\n\n".join(queries)
    assert any(label == "copy events_incoming" for label, _, _ in seen)
    assert any(label.endswith(": delete changed") for label, _, _ in seen)
    assert any(label.startswith("vacuum ") and not inside for label, _, inside in seen)

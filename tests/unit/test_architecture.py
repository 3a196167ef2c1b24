"""The layout's promises, checked from the source: no import cycles, no engine branch outside
the warehouse adapters, and a DuckDB run that never loads the Redshift driver or boto3."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tasks", "flows")
ENGINE_NAMES = {"duckdb", "redshift", "postgres"}
# Where naming an engine is the point: the adapters, and the SQL dialect translation.
ENGINE_HOMES = ("tasks.warehouse", "tasks.common.sql_files")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers inside `if TYPE_CHECKING:` blocks (imports there never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports_of(module: str) -> set[str]:
    """Our modules `module` imports anywhere (functions included), resolved to modules: `from
    a.b import c` is `a.b.c` when that is a module, else `a.b`."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {name for name in found if name in MODULES and name != module}


def cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    graph = {module: imports_of(module) for module in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in graph:
        if module not in index:
            visit(module)
    return groups


def test_no_module_imports_itself_through_others() -> None:
    assert cycles() == []


def test_the_cycle_finder_finds_a_cycle(monkeypatch) -> None:
    # a control: the check above could pass by finding nothing at all
    import tests.unit.test_architecture as me

    real = me.imports_of
    fake = {"tasks.stage": {"tasks.publish"}, "tasks.publish": {"tasks.stage"}}
    monkeypatch.setattr(me, "imports_of", lambda m: fake.get(m, real(m)))
    assert ["tasks.publish", "tasks.stage"] in cycles()


def _engine_comparisons(module: str) -> list[str]:
    """`x == "redshift"`, `x in ("duckdb", ...)` and the like in a module: an engine branch."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for side in [node.left, *node.comparators]:
            values = side.elts if isinstance(side, ast.Tuple | ast.Set | ast.List) else [side]
            if any(isinstance(v, ast.Constant) and v.value in ENGINE_NAMES for v in values):
                found.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_only_the_adapters_branch_on_the_engine() -> None:
    outside = [m for m in MODULES if not m.startswith(ENGINE_HOMES)]
    assert [hit for module in outside for hit in _engine_comparisons(module)] == []
    # and the search sees a branch where there is one (sql_files translates per dialect)
    assert _engine_comparisons("tasks.common.sql_files")


def test_no_module_outside_the_warehouse_asks_for_an_engine_attribute() -> None:
    """The adapter is asked what to do (`adapter_for(target).staging(...)`), never which
    engine it is: a target has no engine or dialect."""
    hits = []
    for module in MODULES:
        if module.startswith(ENGINE_HOMES):
            continue
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        hits += [
            f"{module}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in {"engine", "adapter"}
            and isinstance(node.value, ast.Attribute) and node.value.attr == "warehouse"
        ]  # fmt: skip
    assert hits == []


@pytest.mark.parametrize(
    "imports",
    [
        "import flows.sparkify_etl, flows.sparkify_report, flows.sparkify_daily",
        "import flows.sparkify_backfill, flows.trigger, tasks.sample_lake",
    ],
)
def test_a_duckdb_run_loads_neither_the_redshift_driver_nor_boto3(imports: str) -> None:
    heavy = ("redshift_connector", "boto3", "botocore", "prefect_aws")
    probe = f"import sys; {imports}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_redshift_adapter_does_load_the_driver() -> None:
    # the control: the probe above would also print [] if it imported nothing
    probe = (
        "import sys; from tasks.warehouse.connect import adapter_for;"
        "from tasks.warehouse.target import WarehouseTarget;"
        "adapter_for(WarehouseTarget.parse('redshift:env'));"
        "print('redshift_connector' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"

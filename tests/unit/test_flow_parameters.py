"""What the Prefect UI shows of each flow's parameters."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("module", ["sparkify_etl", "sparkify_daily", "sparkify_backfill",
                                    "sparkify_report"])  # fmt: skip
def test_every_flow_parameter_has_a_description_in_the_run_form(module: str) -> None:
    """Prefect's run form shows each parameter's description, read from the docstring's Args."""
    import importlib

    from prefect.utilities.callables import parameter_schema

    flow = getattr(importlib.import_module(f"flows.{module}"), module)
    properties = parameter_schema(flow.fn).properties
    assert properties
    missing = [name for name, spec in properties.items() if not spec.get("description")]
    assert missing == []

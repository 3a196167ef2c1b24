"""AWS Lambda handler behind Redshift's `f_repair_mojibake` (a Lambda UDF).

Redshift stopped accepting new Python UDFs; Lambda UDFs are AWS's replacement. Redshift sends
batches of rows as `{"arguments": [[value], …]}` and expects `{"success": true, "results":
[…]}` in the same order. The repair is the one the embedded warehouse uses (tasks/text_repair.py),
copied into the Lambda package by `deployments/redshift/README.md`'s packaging step.
"""

from __future__ import annotations

from typing import Any

try:
    from text_repair import repair_mojibake  # inside the Lambda package
except ImportError:  # in this repository
    from tasks.text_repair import repair_mojibake


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Repair each row's single argument; a failure reports itself instead of guessing."""
    try:
        results = [repair_mojibake(row[0]) for row in event["arguments"]]
    except Exception as exc:  # Redshift shows error_msg to the query's author
        return {"success": False, "error_msg": f"{type(exc).__name__}: {exc}"}
    return {"success": True, "num_records": len(results), "results": results}

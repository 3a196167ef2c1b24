"""Create or update the failure-alert automations of deployments/alerts.yaml.

    SPARKIFY_ALERT_WEBHOOK=https://hooks.example.com/... .venv/bin/python deployments/alerts.py

Each `send-notification` action without a `block_document_id` gets the id of the notification
block the file names (`notification_block`; any notification type: a webhook, Slack, email...).
With SPARKIFY_ALERT_WEBHOOK set (read from the environment, so the URL and its token stay out
of argv and shell history), that block is first saved as a custom webhook POSTing
{"text": "SUBJECT\nBODY"} to the URL, which Slack, Mattermost and most chat webhooks accept.
An automation of the same name is updated, so running this again (every `make deploy`) keeps
one automation, sending through the current block. Without a block it says that alerts are off
and exits 0: a local loop needs no alerts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.events.schemas.automations import AutomationCore

DEFAULT_FILE = Path(__file__).with_name("alerts.yaml")
WEBHOOK_ENV = "SPARKIFY_ALERT_WEBHOOK"


def save_webhook_block(name: str, url: str) -> None:
    """The notification block `name`: a POST of {"text": subject and body} to `url`."""
    block = CustomWebhookNotificationBlock(
        name=name, url=url, json_data={"text": "{{subject}}\n{{body}}"}
    )
    block.save(name, overwrite=True)


def notification_block_id(client: SyncPrefectClient, name: str) -> str | None:
    """The id of the block called `name` that can notify; None when there is none."""
    body = {"block_documents": {"name": {"any_": [name]}}, "include_secrets": False}
    response = client.request("POST", "/block_documents/filter", json=body)
    response.raise_for_status()
    found = [
        doc for doc in response.json() if "notify" in doc["block_schema"].get("capabilities", [])
    ]
    if len(found) > 1:
        types = ", ".join(doc["block_type"]["slug"] for doc in found)
        raise SystemExit(f"error: {len(found)} notification blocks named {name!r} ({types})")
    return found[0]["id"] if found else None


def with_block(automation: dict[str, Any], block_id: str) -> AutomationCore:
    """The automation with `block_id` in each send-notification action that names none."""
    for action in automation.get("actions", []):
        if action.get("type") == "send-notification":
            action.setdefault("block_document_id", block_id)
    return AutomationCore.model_validate(automation)


def apply(client: SyncPrefectClient, automation: AutomationCore) -> str:
    """Create the automation, or update the one of the same name; what was done."""
    existing = client.read_automations_by_name(automation.name)
    if not existing:
        client.create_automation(automation)
        return "created"
    client.update_automation(existing[0].id, automation)
    for extra in existing[1:]:  # two of one name (created by hand): keep one
        client.delete_automation(extra.id)
    return "updated"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deployments/alerts.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the automations file")
    args = parser.parse_args(argv)
    document = yaml.safe_load(args.file.read_text())
    block_name = document["notification_block"]
    if os.environ.get(WEBHOOK_ENV):
        save_webhook_block(block_name, os.environ[WEBHOOK_ENV])
    with get_client(sync_client=True) as client:
        block_id = notification_block_id(client, block_name)
        if block_id is None:
            hint = f"set {WEBHOOK_ENV} or create one, see deployments/README.md"
            print(
                f"failure alerts are off: no notification block named {block_name!r} ({hint})",
                file=sys.stderr,
            )
            return 0
        for automation in document["automations"]:
            done = apply(client, with_block(automation, block_id))
            print(f"automation {automation['name']} {done}: notifies through {block_name!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

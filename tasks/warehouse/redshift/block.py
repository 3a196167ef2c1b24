"""The `RedshiftWarehouse` Prefect block: where the star schema lives in Redshift and what COPY
needs (register it with `prefect block register -m tasks.warehouse.redshift.block`).

Connection settings live in the block (the password as a secret, or IAM / Serverless options
that redshift_connector supports), or for one-off runs in `SPARKIFY_REDSHIFT_*` environment
variables (`--warehouse redshift:env`). Neither is ever logged: tasks pass the block's *name*,
and open the connection themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, cast

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from tasks.common.errors import WarehouseError
from tasks.warehouse.target import WarehouseTarget

ENV_PREFIX = "SPARKIFY_REDSHIFT_"


class RedshiftWarehouse(Block):
    """Where the star schema lives in Redshift, and what COPY needs to load the staged rows."""

    _block_type_name = "Sparkify Redshift Warehouse"
    _block_type_slug = "sparkify-redshift-warehouse"

    host: str | None = Field(default=None, description="Cluster or workgroup endpoint host.")
    port: int = 5439
    database: str = "dev"
    user: str | None = None
    password: SecretStr | None = None
    iam: bool = Field(default=False, description="Authenticate with IAM instead of a password.")
    cluster_identifier: str | None = None
    serverless_work_group: str | None = None
    is_serverless: bool = False
    region: str | None = None
    db_user: str | None = None
    profile: str | None = None
    ssl: bool = True
    timeout: int = 30
    copy_iam_role: str | None = Field(
        default=None, description="ARN of the role COPY assumes to read the staged Parquet parts."
    )
    staging_uri: str | None = Field(
        default=None,
        description="s3://bucket/prefix where the worker writes the staged Parquet parts; the "
        "bucket must be in the cluster's region.",
    )
    copy_slices: int | None = Field(
        default=None,
        description="Slices that share a COPY (parts are a multiple of it); unset: STV_SLICES.",
    )

    @property
    def serverless(self) -> bool:
        return self.is_serverless or self.serverless_work_group is not None

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for redshift_connector.connect (the only place secrets are read)."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "password": self.password.get_secret_value() if self.password else None,
            "iam": self.iam or None,
            "cluster_identifier": self.cluster_identifier,
            "serverless_work_group": self.serverless_work_group,
            "is_serverless": self.is_serverless,
            "region": self.region,
            "db_user": self.db_user,
            "profile": self.profile,
            "ssl": self.ssl,
            "timeout": self.timeout,
        }
        return {key: value for key, value in kwargs.items() if value is not None}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RedshiftWarehouse:
        """Settings from SPARKIFY_REDSHIFT_HOST, _PORT, _DATABASE, _USER, _PASSWORD, …"""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = environ.get(f"{ENV_PREFIX}{name.upper()}")
            if raw is not None:
                values[name] = raw.lower() in {"1", "true", "yes"} if name in _FLAGS else raw
        if not values.get("host") and not values.get("serverless_work_group"):
            raise WarehouseError(
                f"{ENV_PREFIX}HOST is not set (needed for --warehouse redshift:env)"
            )
        return cls(**values)


_FLAGS = {"iam", "ssl", "is_serverless"}


def load_settings(target: WarehouseTarget) -> RedshiftWarehouse:
    """The block a target names (`env`: the SPARKIFY_REDSHIFT_* variables)."""
    if target.block == "env":
        return RedshiftWarehouse.from_env()
    return cast(RedshiftWarehouse, RedshiftWarehouse.load(target.block))  # sync in a flow

"""The flow on a lake in S3 (a real S3 API on 127.0.0.1, moto's server), through a temporary
Prefect server: with the standard AWS environment and with prefect-aws blocks. Listing, reading
and the one-line errors are tests/warehouse/test_s3_lake.py."""

from __future__ import annotations

import pytest
from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters

from flows.sparkify_etl import main, sparkify_etl
from tests.helpers import assert_tables_equal, published_tables
from tests.reference import star_schema
from tests.s3_server import TEST_ENV


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_the_flow_loads_an_s3_lake_from_the_standard_aws_environment(s3_lake, small_lake, tmp_path):
    sparkify_etl(source=s3_lake, warehouse=str(tmp_path / "w.duckdb"))
    assert_tables_equal(published_tables(tmp_path / "w.duckdb"), star_schema(small_lake))


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_the_flow_loads_an_s3_lake_named_by_prefect_aws_blocks(
    s3_lake, s3_endpoint, small_lake, tmp_path, monkeypatch
):
    for variable in [*TEST_ENV, "AWS_ENDPOINT_URL_S3"]:  # only the block may say where and who
        monkeypatch.delenv(variable)
    credentials = AwsCredentials(
        aws_access_key_id=TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=s3_endpoint),
    )
    S3Bucket(bucket_name="sparkify-lake", bucket_folder="udacity", credentials=credentials).save(
        "sparkify-test-lake", overwrite=True
    )
    code = main(["--source", "2018", "--s3-bucket-block", "sparkify-test-lake",
                 "--warehouse", str(tmp_path / "w.duckdb")])  # fmt: skip
    assert code == 0
    assert_tables_equal(published_tables(tmp_path / "w.duckdb"), star_schema(small_lake))

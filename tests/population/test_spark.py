"""The Spark engine gives the DuckDB engine's outputs byte for byte (one small run, one session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nmocart.population.spark_engine import stop_spark
from tests.population.conftest import OUTPUTS, input_paths, prescreen


@pytest.fixture(scope="module")
def spark_out(tmp_path_factory: pytest.TempPathFactory, mixed_input: Path) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("spark") / "out"
    try:
        status = prescreen(
            input_paths(mixed_input), out, "--engine", "spark", "--spark-master", "local[2]", "--jobs", "2"
        )
        assert status == 2
        yield out
    finally:
        stop_spark()


@pytest.mark.parametrize("name", OUTPUTS)
def test_spark_and_duckdb_outputs_are_byte_identical(spark_out: Path, duckdb_out: Path, name: str) -> None:
    assert (spark_out / name).read_bytes() == (duckdb_out / name).read_bytes()

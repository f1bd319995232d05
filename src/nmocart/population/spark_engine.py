"""The distributed engine: Apache Spark reads, flattens and groups the input with the DataFrame API.

The same flattening as the DuckDB engine (:mod:`nmocart.population.duckdb_engine`): each NDJSON
line is one text row (the raw resource kept as text), parsed once as a VARIANT; the type, id
and references are extracted and resolved to patient and medication keys with the same
patterns; rows are grouped by patient, sorted by key (range partitions, in order), and each
partition is assessed in the Python workers with ``mapInPandas``. The driver reads the
partitions back in order, so the outputs are the DuckDB engine's, byte for byte.

Local by default (``local[*]``), any ``--spark-master`` otherwise; no UI, bound to 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as sf

from nmocart.fhir.resources import Origin
from nmocart.population.assess import NO_ID_PREFIX, ChunkOutput, RunSettings, assess_batch
from nmocart.population.flatten import (
    FLAT_COLUMNS,
    HISTORY_SUFFIX,
    ID_PATTERN,
    MEDICATION_REFERENCE,
    MEDICATION_USERS,
    PATIENT_REFERENCE,
    READ_TYPE_LIST,
    FileReport,
    FlatRow,
    InputAccount,
    input_files,
    read_with_intake,
    split_inputs,
)

CHUNK_PATIENTS = 256
"""Patients per Arrow batch handed to a Python worker (one tally per batch)."""

RESULT_SCHEMA = "patients int, records binary, sources binary, results binary, tally binary"
RESULT_ARROW_SCHEMA = pa.schema(
    [
        ("patients", pa.int32()),
        ("records", pa.binary()),
        ("sources", pa.binary()),
        ("results", pa.binary()),
        ("tally", pa.binary()),
    ]
)


def spark_session(master: str, jobs: int, scratch: Path) -> SparkSession:
    """A Spark session for one run: no UI, loopback only, few shuffle partitions, scratch on disk."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName("nmocart-prescreen")
        .config("spark.ui.enabled", "false")
        .config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", str(max(2, 2 * jobs)))
        .config("spark.default.parallelism", str(max(2, jobs)))
        .config("spark.local.dir", str(scratch / "spark"))
        .config("spark.driver.memory", "2g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(CHUNK_PATIENTS))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def _string_field(variant: Column, path: str) -> Column:
    """A top-level field's text when it is a JSON string (else null), like DuckDB's json_type check."""
    value = sf.variant_get(variant, path, "variant")
    return sf.when(sf.schema_of_variant(value) == "STRING", sf.variant_get(variant, path, "string"))


def _local_reference(reference: Column) -> Column:
    """A reference without query, version suffix and trailing slashes; null for ``#`` and ``urn:``."""
    trimmed = sf.regexp_replace(
        sf.regexp_replace(sf.split_part(reference, sf.lit("?"), sf.lit(1)), HISTORY_SUFFIX, ""), "/+\\z", ""
    )
    return sf.when(~reference.startswith("#") & ~reference.startswith("urn:"), trimmed)


def flatten(lines: DataFrame) -> DataFrame:
    """Flat rows (``ok`` plus :class:`FlatRow` columns) of ``(file, line)`` text rows."""
    parsed = lines.select("file", "line", sf.try_parse_json("line").alias("v"))
    fields = parsed.select(
        "file",
        "line",
        _string_field(sf.col("v"), "$.resourceType").alias("rtype"),
        _string_field(sf.col("v"), "$.id").alias("rid"),
        _local_reference(_string_field(sf.col("v"), "$.subject.reference")).alias("subject"),
        _local_reference(_string_field(sf.col("v"), "$.medicationReference.reference")).alias("medication"),
    )
    read_types = sf.col("rtype").isin(*READ_TYPE_LIST)
    ok = (
        sf.col("rtype").isNotNull()
        & (sf.col("rtype") != "Bundle")
        & sf.col("rid").isNotNull()
        & sf.col("rid").rlike("^" + ID_PATTERN + "\\z")
        & ~sf.col("line").contains("\ufffd")
    )
    patient = sf.regexp_extract("subject", PATIENT_REFERENCE, 1)
    medication = sf.regexp_extract("medication", MEDICATION_REFERENCE, 1)
    return fields.select(
        sf.coalesce(ok, sf.lit(False)).alias("ok"),
        "rtype",
        sf.concat("rtype", sf.lit("/"), "rid").alias("ref"),
        "file",
        sf.lit(0).cast("long").alias("line"),
        sf.lit("").alias("entry"),
        sf.when(sf.col("rtype") == "Patient", sf.col("rid"))
        .otherwise(sf.when(patient != "", patient))
        .alias("pkey"),
        sf.when(
            sf.col("rtype").isin(*MEDICATION_USERS) & (medication != ""),
            sf.concat(sf.lit("Medication/"), medication),
        ).alias("mkey"),
        sf.when(sf.coalesce(ok, sf.lit(False)) & read_types, sf.col("line")).alias("raw"),
    )


def _assess_partition(settings: RunSettings) -> Any:
    """The ``mapInArrow`` function: each Arrow batch of groups becomes one row of its chunk's output.

    The same per-chunk work as the DuckDB engine's workers (:func:`assess_batch` makes the
    batch's rows column by column, then :func:`~nmocart.population.assess.assess_chunk`), and
    the chunk's lines come back joined, with its tally, as one row (not one row per patient).
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if not batch.num_rows:
                continue
            chunk = assess_batch(batch, settings)
            yield pa.RecordBatch.from_pydict(
                {
                    "patients": [chunk.patients],
                    "records": [chunk.records],
                    "sources": [chunk.sources],
                    "results": [chunk.results],
                    "tally": [chunk.tally],
                },
                schema=RESULT_ARROW_SCHEMA,
            )

    return run


class SparkEngine:
    """Reads, flattens and groups the input with Spark; assesses patients in its Python workers."""

    name = "spark"

    def __init__(self, scratch: Path, jobs: int, master: str = "local[*]") -> None:
        """Start (or reuse) the Spark session; its local files go under ``scratch``."""
        self.spark = spark_session(master, jobs, scratch)
        self.account = InputAccount()
        self.resources: DataFrame | None = None

    def _table(self) -> DataFrame:
        assert self.resources is not None, "load() first"
        return self.resources

    def load(self, paths: list[str]) -> None:
        """Flatten every input file into a persisted DataFrame and account for each file."""
        spark = self.spark
        ndjson, bundles, skipped = split_inputs(paths)
        self.account.skipped.extend(skipped)
        frames = []
        for path in ndjson:
            text = spark.read.text(path).select(sf.lit(path).alias("file"), sf.col("value").alias("line"))
            frames.append(text.where(sf.trim(sf.col("line"), sf.lit(" \t\r")) != ""))
        flat: DataFrame | None = None
        for frame in frames:
            rows = flatten(frame)
            flat = rows if flat is None else flat.unionByName(rows)
        flagged: set[str] = set()
        counts: dict[str, int] = {}
        if flat is not None:
            flat = flat.persist(StorageLevel.MEMORY_AND_DISK)
            for row in (
                flat.groupBy("file")
                .agg(
                    sf.count(sf.lit(1)).alias("n"),
                    sf.sum(sf.when(~sf.col("ok"), 1).otherwise(0)).alias("bad"),
                )
                .collect()
            ):
                counts[row["file"]] = int(row["n"])
                if row["bad"]:
                    flagged.add(row["file"])
            flat = flat.where(~sf.col("file").isin(*flagged)) if flagged else flat
        reader_files = [p for p in [*ndjson, *bundles] if p in flagged or p in bundles]
        for path in ndjson:
            if path not in flagged:
                report = FileReport(path, "ndjson")
                report.read = report.resources = counts.get(path, 0)
                self.account.reports[path] = report
        if reader_files:
            reader_rows = [(True, *row) for row in read_with_intake(reader_files, self.account)]
            schema = (
                "ok boolean, rtype string, ref string, file string, line long, entry string,"
                " pkey string, mkey string, raw string"
            )
            extra = spark.createDataFrame(reader_rows, schema=schema) if reader_rows else None
            if extra is not None:
                extra = extra.withColumn("raw", sf.when(sf.col("rtype").isin(*READ_TYPE_LIST), sf.col("raw")))
                flat = extra if flat is None else flat.unionByName(extra)
        if flat is None:
            flat = spark.createDataFrame(
                [],
                "ok boolean, rtype string, ref string, file string, line long, entry string,"
                " pkey string, mkey string, raw string",
            )
        self.resources = flat.persist(StorageLevel.MEMORY_AND_DISK)
        order = [path for path, fmt in input_files(paths) if fmt is not None]
        self.account.reports = {p: self.account.reports[p] for p in order if p in self.account.reports}

    def not_read(self) -> dict[str, int]:
        """Resources of types the intake does not read, by type."""
        rows = (
            self._table()
            .where(~sf.col("rtype").isin(*READ_TYPE_LIST))
            .groupBy("rtype")
            .count()
            .orderBy("rtype")
            .collect()
        )
        return {str(r["rtype"]): int(r["count"]) for r in rows}

    def duplicates(self) -> list[tuple[str, list[Origin]]]:
        """Resource references read more than once, with every copy's place."""
        rows = (
            self._table()
            .where(sf.col("rtype").isin(*READ_TYPE_LIST) & ~sf.col("ref").contains("@"))
            .groupBy("rtype", "ref")
            .agg(
                sf.count(sf.lit(1)).alias("n"),
                sf.collect_list(sf.struct("file", "line", "entry")).alias("copies"),
            )
            .where(sf.col("n") > 1)
            .orderBy("ref")
            .collect()
        )
        return [
            (str(r["ref"]), sorted(Origin(c["file"], int(c["line"]), c["entry"]) for c in r["copies"]))
            for r in rows
        ]

    def medications(self) -> Iterator[FlatRow]:
        """Every Medication row, for the Medication accounting after the patients."""
        rows = (
            self._table()
            .where(sf.col("rtype") == "Medication")
            .select(*FLAT_COLUMNS)
            .orderBy("ref", "file", "line", "entry")
            .toLocalIterator()
        )
        for row in rows:
            yield FlatRow(*row)

    def patient_count(self) -> int:
        """Patient resources read."""
        return int(self._table().where(sf.col("rtype") == "Patient").count())

    def groups(self) -> DataFrame:
        """One row per patient key with its rows, sorted by key (nulls last) across ordered partitions."""
        table = self._table()
        users = (
            table.where(sf.col("mkey").isNotNull() & sf.col("pkey").isNotNull())
            .select(sf.col("mkey").alias("u_mkey"), sf.col("pkey").alias("u_pkey"))
            .distinct()
        )
        key = sf.when(
            (sf.col("rtype") == "Patient") & sf.col("pkey").isNull(),
            sf.concat(
                sf.lit(NO_ID_PREFIX),
                "ref",
                sf.lit(" "),
                "file",
                sf.lit(":"),
                sf.col("line").cast("string"),
                sf.lit(" "),
                "entry",
            ),
        ).otherwise(sf.col("pkey"))
        items = table.where((sf.col("rtype") != "Medication") & sf.col("rtype").isin(*READ_TYPE_LIST)).select(
            key.alias("key"), *FLAT_COLUMNS
        )
        medications = (
            table.where(sf.col("rtype") == "Medication")
            .join(users, sf.col("ref") == sf.col("u_mkey"))
            .select(sf.col("u_pkey").alias("key"), *FLAT_COLUMNS)
        )
        return (
            items.unionByName(medications)
            .groupBy("key")
            .agg(sf.collect_list(sf.struct(*FLAT_COLUMNS)).alias("rows"))
            .orderBy(sf.asc_nulls_last("key"))
        )

    def assessments(self, settings: RunSettings, jobs: int) -> Iterator[ChunkOutput]:
        """Every group assessed in the Python workers, chunk by chunk, in key order."""
        assessed = self.groups().mapInArrow(_assess_partition(settings), RESULT_SCHEMA)
        for row in assessed.toLocalIterator(prefetchPartitions=True):
            yield ChunkOutput(
                int(row["patients"]),
                bytes(row["records"]),
                bytes(row["sources"]),
                bytes(row["results"]),
                bytes(row["tally"]),
            )

    def close(self) -> None:
        """Release the cached table (the session stays for reuse within the process)."""
        if self.resources is not None:
            self.resources.unpersist()
        self.resources = None


def stop_spark() -> None:
    """Stop the active Spark session, if any (end of a process or a test module)."""
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


__all__ = ["SparkEngine", "flatten", "spark_session", "stop_spark"]

"""The embedded engine: DuckDB reads the NDJSON itself, flattens and groups it by patient in SQL.

Each NDJSON line is read as one text column (the raw resource kept as JSON text); SQL extracts
the type, id and references, resolves the patient and medication keys (the same rules as the
intake's reader, spec section 1) and groups the rows by patient in candidate order, in an
on-disk scratch database so memory stays bounded. Files that need the intake's own reader
(:mod:`nmocart.population.flatten`) join as an Arrow table. Patients are then assessed in a
process pool, chunk by chunk, in key order.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from nmocart.fhir.resources import Origin
from nmocart.population.assess import NO_ID_PREFIX, ChunkOutput, RunSettings, assess_rows
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


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


_READ_TYPES_SQL = _sql_list(READ_TYPE_LIST)
_USERS_SQL = _sql_list(MEDICATION_USERS)

_FLATTEN = f"""
CREATE TABLE resources AS
WITH lines AS (
    SELECT filename AS file, line
    FROM read_csv($files, columns = {{'line': 'VARCHAR'}}, delim = '\x1f', quote = '', escape = '',
                  header = false, filename = true, auto_detect = false, store_rejects = true,
                  strict_mode = false, new_line = '\\n')
    -- not blank; ltrim decides it as trim would, without scanning the line from its end too
    WHERE line IS NOT NULL AND ltrim(line, ' \t\r') <> ''
), typed AS (
    SELECT file, line,
        try(json_extract(line, ['$.resourceType', '$.id', '$.subject.reference',
                                '$.medicationReference.reference'])) AS j
    FROM lines
), strings AS (
    SELECT file, line,
        CASE WHEN json_type(j[1]) = 'VARCHAR' THEN j[1] ->> '$' END AS rtype,
        CASE WHEN json_type(j[2]) = 'VARCHAR' THEN j[2] ->> '$' END AS rid,
        CASE WHEN json_type(j[3]) = 'VARCHAR' THEN j[3] ->> '$' END AS s,
        CASE WHEN json_type(j[4]) = 'VARCHAR' THEN j[4] ->> '$' END AS m
    FROM typed
), fields AS (
    SELECT file, line, rtype, rid,
        rtype IS NOT NULL AND rtype <> 'Bundle' AND rid IS NOT NULL
            AND regexp_full_match(rid, '{ID_PATTERN}') AS ok,
        CASE WHEN NOT starts_with(s, '#') AND NOT starts_with(s, 'urn:') THEN
            rtrim(regexp_replace(split_part(s, '?', 1), '{HISTORY_SUFFIX}', ''), '/')
        END AS subject,
        CASE WHEN NOT starts_with(m, '#') AND NOT starts_with(m, 'urn:') THEN
            rtrim(regexp_replace(split_part(m, '?', 1), '{HISTORY_SUFFIX}', ''), '/')
        END AS medication
    FROM strings
)
SELECT
    ok,
    rtype,
    rtype || '/' || rid AS ref,
    file,
    0 AS line,
    '' AS entry,
    CASE WHEN rtype = 'Patient' THEN rid
         ELSE nullif(regexp_extract(subject, '{PATIENT_REFERENCE}', 1), '') END AS pkey,
    CASE WHEN list_contains({_USERS_SQL}, rtype)
              AND regexp_extract(medication, '{MEDICATION_REFERENCE}', 1) <> ''
         THEN 'Medication/' || regexp_extract(medication, '{MEDICATION_REFERENCE}', 1) END AS mkey,
    CASE WHEN ok AND list_contains({_READ_TYPES_SQL}, rtype) THEN line END AS raw
FROM fields
"""

_ROWS = f"""
WITH users AS (
    SELECT DISTINCT mkey, pkey FROM resources WHERE mkey IS NOT NULL AND pkey IS NOT NULL
), items AS (
    SELECT CASE WHEN rtype = 'Patient' AND pkey IS NULL
                THEN '{NO_ID_PREFIX}' || ref || ' ' || file || ':' || line || ' ' || entry
                ELSE pkey END AS key,
           rtype, ref, file, line, entry, pkey, mkey, raw
    FROM resources
    WHERE rtype <> 'Medication' AND list_contains({_READ_TYPES_SQL}, rtype)
    UNION ALL
    SELECT u.pkey AS key, m.rtype, m.ref, m.file, m.line, m.entry, m.pkey, m.mkey, m.raw
    FROM resources m JOIN users u ON m.rtype = 'Medication' AND m.ref = u.mkey
)
SELECT key, rtype, ref, file, line, entry, pkey, mkey, raw
FROM items
ORDER BY key NULLS LAST
"""


ROWS_PER_BATCH = 8192
"""Rows fetched from the sorted stream at a time (about 270 patients): a worker's task, once re-cut."""


def whole_groups(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Batches of rows sorted by key (the first column), re-cut so that no key spans two batches.

    The rows of the last key of a batch may go on in the next one: they are held back and
    put in front of it. Null keys come last (``NULLS LAST``) and form one group.
    """
    carry: pa.Table | None = None
    for batch in batches:
        if not batch.num_rows:
            continue
        table = pa.Table.from_batches([batch])
        if carry is not None:
            table = pa.concat_tables([carry, table])
        keys = table.column(0)
        last = keys[-1]
        cut = pc.index(keys, last).as_py() if last.is_valid else table.num_rows - keys.null_count
        if cut > 0:
            yield table.slice(0, cut).combine_chunks().to_batches()[0]
        carry = table.slice(cut)
    if carry is not None and carry.num_rows:
        yield carry.combine_chunks().to_batches()[0]


def assess_in_pool(
    batches: Iterable[pa.RecordBatch], settings: RunSettings, jobs: int
) -> Iterator[ChunkOutput]:
    """Assess batches of whole groups in ``jobs`` worker processes, yielding the chunks in batch order.

    The batches go to the workers as Arrow data (cheap to send; the workers make the Python
    rows), so the engine's process only runs the query and writes what comes back. Workers
    are spawned, not forked: DuckDB's threads do not survive a fork.
    """
    if jobs <= 1:
        for batch in batches:
            yield assess_rows(batch, settings)
        return
    window: deque[Future[ChunkOutput]] = deque()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        for batch in batches:
            window.append(pool.submit(assess_rows, batch, settings))
            if len(window) >= 3 * jobs:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


class DuckDBEngine:
    """Reads, flattens and groups the input with DuckDB; yields patients in candidate order."""

    name = "duckdb"

    def __init__(self, scratch: Path, threads: int, memory_limit: str = "2GB") -> None:
        """Open a scratch database in ``scratch`` (removed with it at the end of the run)."""
        self.con = duckdb.connect(":memory:")
        self._run(f"SET threads = {max(1, threads)}")
        self._run(f"SET memory_limit = '{memory_limit}'")
        self._run(f"SET temp_directory = '{scratch / 'spill'}'")
        self._run("SET preserve_insertion_order = false")
        self._run("SET enable_progress_bar = false")
        self.account = InputAccount()

    def _run(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a statement to completion (DuckDB wants every result consumed)."""
        return self.con.execute(sql, parameters).fetchall()

    def load(self, paths: list[str]) -> None:
        """Flatten every input file into the ``resources`` table and account for each file."""
        ndjson, bundles, skipped = split_inputs(paths)
        self.account.skipped.extend(skipped)
        order = [path for path, fmt in input_files(paths) if fmt is not None]
        if ndjson:
            self._run(_FLATTEN, {"files": ndjson})
            rejected = {
                row[0]
                for row in self.con.execute(
                    "SELECT DISTINCT s.file_path FROM reject_errors e"
                    " JOIN reject_scans s USING (scan_id, file_id)"
                ).fetchall()
            }
            flagged = {
                row[0]
                for row in self.con.execute("SELECT DISTINCT file FROM resources WHERE NOT ok").fetchall()
            }
        else:
            self._run(
                "CREATE TABLE resources (ok BOOLEAN, rtype VARCHAR, ref VARCHAR, file VARCHAR, line BIGINT,"
                " entry VARCHAR, pkey VARCHAR, mkey VARCHAR, raw VARCHAR)"
            )
            rejected, flagged = set(), set()
        to_reader = sorted((rejected | flagged) & set(ndjson))
        if to_reader:
            self._run("DELETE FROM resources WHERE list_contains($files, file)", {"files": to_reader})
        counts = dict(self.con.execute("SELECT file, count(*) FROM resources GROUP BY file").fetchall())
        for path in ndjson:
            if path not in to_reader:
                report = FileReport(path, "ndjson")
                report.read = report.resources = int(counts.get(path, 0))
                self.account.reports[path] = report
        reader_files = [p for p in order if p in to_reader or p in bundles]
        if reader_files:
            rows = list(read_with_intake(reader_files, self.account))
            table = pa.table(
                {name: [getattr(r, name) for r in rows] for name in FLAT_COLUMNS},
                schema=pa.schema(
                    [
                        ("rtype", pa.string()),
                        ("ref", pa.string()),
                        ("file", pa.string()),
                        ("line", pa.int64()),
                        ("entry", pa.string()),
                        ("pkey", pa.string()),
                        ("mkey", pa.string()),
                        ("raw", pa.string()),
                    ]
                ),
            )
            self.con.register("reader_rows", table)
            self._run(
                "INSERT INTO resources SELECT true, rtype, ref, file, line, entry, pkey, mkey,"
                f" CASE WHEN list_contains({_READ_TYPES_SQL}, rtype) THEN raw END FROM reader_rows"
            )
            self.con.unregister("reader_rows")
        self.account.reports = {p: self.account.reports[p] for p in order if p in self.account.reports}

    def not_read(self) -> dict[str, int]:
        """Resources of types the intake does not read, by type."""
        rows = self.con.execute(
            f"SELECT rtype, count(*) FROM resources WHERE NOT list_contains({_READ_TYPES_SQL}, rtype)"
            " GROUP BY rtype ORDER BY rtype"
        ).fetchall()
        return {str(t): int(n) for t, n in rows}

    def unreferenced_medications(self) -> list[str]:
        """Medications no resource of a known patient points to (their refs, sorted)."""
        rows = self.con.execute(
            "SELECT m.ref FROM resources m WHERE m.rtype = 'Medication' AND NOT EXISTS ("
            " SELECT 1 FROM resources u WHERE u.mkey = m.ref AND u.pkey IS NOT NULL) ORDER BY m.ref"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def patient_count(self) -> int:
        """Patients to assess (groups with at least one Patient resource)."""
        row = self.con.execute("SELECT count(*) FROM resources WHERE rtype = 'Patient'").fetchone()
        return int(row[0]) if row else 0

    def duplicates(self) -> list[tuple[str, list[Origin]]]:
        """Resource references read more than once, with every copy's place.

        The repeated references are found by counting first; only their copies are then
        listed (listing every reference's places and keeping the repeated ones cost a sorted
        list per resource).
        """
        rows = self.con.execute(
            f"""WITH repeated AS (
                SELECT rtype, ref FROM resources
                WHERE list_contains({_READ_TYPES_SQL}, rtype) AND ref NOT LIKE '%@%'
                GROUP BY rtype, ref HAVING count(*) > 1
            )
            SELECT ref, list((file, line, entry) ORDER BY file, line, entry)
            FROM resources JOIN repeated USING (rtype, ref)
            GROUP BY rtype, ref ORDER BY ref"""
        ).fetchall()
        return [(str(ref), [Origin(*copy) for copy in copies]) for ref, copies in rows]

    def medications(self) -> Iterator[FlatRow]:
        """Every Medication row, for the Medication accounting after the patients."""
        result = self.con.cursor().execute(
            "SELECT rtype, ref, file, line, entry, pkey, mkey, raw FROM resources WHERE rtype = 'Medication'"
            " ORDER BY ref, file, line, entry"
        )
        while batch := result.fetchmany(5000):
            for row in batch:
                yield FlatRow(*row)

    def assessments(self, settings: RunSettings, jobs: int) -> Iterator[ChunkOutput]:
        """Every group assessed in a process pool, in key order."""
        return assess_in_pool(self.batches(), settings, jobs)

    def batches(self, rows: int = ROWS_PER_BATCH) -> Iterator[pa.RecordBatch]:
        """Every group's rows in key order (None last), in Arrow batches of whole groups.

        A sorted stream of rows rather than one aggregated list per patient: DuckDB sorts out
        of core, so memory stays bounded whatever the population (aggregating lists of raw
        resources ran out of memory once the data was about five times the memory limit).
        """
        reader = self.con.cursor().sql(_ROWS).to_arrow_reader(rows)
        return whole_groups(reader)

    def close(self) -> None:
        """Close the scratch database."""
        self.con.close()

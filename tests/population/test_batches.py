"""Workers make the same groups from Arrow batches as a row-by-row conversion would."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from nmocart.population.assess import groups_of_batch, groups_of_rows
from nmocart.population.duckdb_engine import whole_groups
from nmocart.population.flatten import FLAT_COLUMNS

ROW = st.tuples(
    st.sampled_from(["Patient", "Observation", "Medication"]),
    st.text(max_size=5),
    st.just("f.ndjson"),
    st.integers(0, 9),
    st.sampled_from(["", "entry[0]"]),
    st.one_of(st.none(), st.text(max_size=3)),
    st.one_of(st.none(), st.text(max_size=3)),
    st.one_of(st.none(), st.text(max_size=8)),
)
GROUPS = st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=4)), st.lists(ROW, min_size=1, max_size=4)))

STRUCT = pa.struct(
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
)


def _batch(groups: list[tuple[str | None, list[tuple[object, ...]]]]) -> pa.RecordBatch:
    rows = [[dict(zip(FLAT_COLUMNS, row, strict=True)) for row in rows] for _, rows in groups]
    return pa.RecordBatch.from_arrays(
        [pa.array([key for key, _ in groups], pa.string()), pa.array(rows, pa.list_(STRUCT))],
        names=["key", "rows"],
    )


@given(GROUPS, st.integers(0, 5), st.integers(0, 5))
@settings(max_examples=80, deadline=None)
def test_batch_groups_are_the_rows_in_order(
    groups: list[tuple[str | None, list[tuple[object, ...]]]], start: int, length: int
) -> None:
    batch = _batch(groups)
    expected = [(key if key is not None else "", rows) for key, rows in groups]
    assert groups_of_batch(batch) == expected
    # a slice of a batch (offsets not starting at 0) gives the slice's groups
    assert groups_of_batch(batch.slice(start, length)) == expected[start : start + length]


SORTED_ROWS = st.lists(
    st.tuples(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])), st.integers(0, 99)), max_size=40
).map(lambda rows: sorted(rows, key=lambda r: (r[0] is None, r[0] or "")))


@given(SORTED_ROWS, st.integers(1, 7))
@settings(max_examples=100, deadline=None)
def test_sorted_rows_are_recut_into_whole_groups(rows: list[tuple[str | None, int]], size: int) -> None:
    table = pa.table(
        {
            "key": pa.array([k for k, _ in rows], pa.string()),
            "rtype": pa.array(["Observation"] * len(rows), pa.string()),
            "ref": pa.array([f"Observation/{n}" for _, n in rows], pa.string()),
            "file": pa.array(["f.ndjson"] * len(rows), pa.string()),
            "line": pa.array([0] * len(rows), pa.int64()),
            "entry": pa.array([""] * len(rows), pa.string()),
            "pkey": pa.array([k for k, _ in rows], pa.string()),
            "mkey": pa.array([None] * len(rows), pa.string()),
            "raw": pa.array(["{}"] * len(rows), pa.string()),
        }
    )
    batches = table.to_batches(max_chunksize=size)
    recut = list(whole_groups(batches))
    groups = [group for batch in recut for group in groups_of_rows(batch)]
    expected: list[tuple[str, list[str]]] = []
    for key, number in rows:
        name = key if key is not None else ""
        if not expected or expected[-1][0] != name:
            expected.append((name, []))
        expected[-1][1].append(f"Observation/{number}")
    assert [(key, [row[1] for row in group]) for key, group in groups] == expected
    assert all(batch.num_rows for batch in recut)

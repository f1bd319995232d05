"""Workers make the same rows from an Arrow batch of groups as a row-by-row conversion would."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from nmocart.population.assess import groups_of_batch
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

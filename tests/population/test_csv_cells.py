"""Pre-screening CSVs keep FHIR text inert in a spreadsheet (OWASP CSV injection)."""

from __future__ import annotations

from nmocart.population.outputs import _csv_bytes


def test_formula_like_fhir_text_is_neutralised_and_numbers_stay_numbers() -> None:
    rows: list[dict[str, object]] = [
        {"candidate_id": '=HYPERLINK("x")', "unknown": 2, "note": None, "score": -1.5},
        {"candidate_id": "@SUM(A1)", "unknown": 0, "note": "-x", "score": 3},
    ]
    text = _csv_bytes(("candidate_id", "unknown", "note", "score"), rows).decode()
    assert text.splitlines() == [
        "candidate_id,unknown,note,score",
        '"\'=HYPERLINK(""x"")",2,,-1.5',
        "'@SUM(A1),0,'-x,3",
    ]

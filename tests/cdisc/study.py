"""A small, hand-built study (screening, safety, kinetics, enrolment) whose SDTM rows are known."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import orjson

from nmocart.cdisc.domains import Dataset, Study
from nmocart.cdisc.inputs import Sourced, StudyInput, enrolment_from_text, kinetics_from_text
from nmocart.demo import example_bytes
from nmocart.safety.record import SafetyRecord
from nmocart.screening.protocol import load_protocol
from nmocart.screening.record import parse_record

INFUSION = dt.date(2026, 3, 20)


def day(n: int) -> str:
    """The date ``n`` days after the infusion (nmocart day n, SDTM day n + 1 when n >= 0)."""
    return (INFUSION + dt.timedelta(days=n)).isoformat()


def screening_records() -> list[dict[str, Any]]:
    """SCR-0001 eligible (male), SCR-0002 ineligible, SCR-0003 incomplete, SCR-0004 eligible (male)."""
    eligible = orjson.loads(example_bytes("eligible"))
    other = copy.deepcopy(eligible)
    other["candidate_id"] = "SCR-0004"
    return [
        eligible,
        orjson.loads(example_bytes("ineligible")),
        orjson.loads(example_bytes("incomplete")),
        other,
    ]


def crs_day(n: int, temperature: float, oxygen: str = "none", hypotension: bool = False) -> dict[str, Any]:
    return {
        "date": day(n),
        "temperature_c": temperature,
        "hypotension": hypotension,
        "vasopressors": 0,
        "oxygen": oxygen,
        "oxygen_flow_l_min": 2.0 if oxygen == "nasal_cannula" else None,
        "anticytokine_given": False,
    }


def icans_day(n: int, ice: int) -> dict[str, Any]:
    return {
        "date": day(n),
        "ice": {
            "orientation": min(4, ice),
            "naming": max(0, min(3, ice - 4)),
            "commands": int(ice >= 8),
            "writing": int(ice >= 9),
            "attention": int(ice >= 10),
        },
        "consciousness": "alert",
        "seizure": "none",
        "motor": "none",
        "cerebral_edema": "none",
    }


def lab(n: int, test: str, value: float, unit: str, low: float | None, high: float | None) -> dict[str, Any]:
    return {
        "date": day(n),
        "test": test,
        "value": value,
        "unit": unit,
        "lower_limit": low,
        "upper_limit": high,
    }


def adverse_event(term: str, start: int, end: int | None, grade: int, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "term": term,
        "start_date": day(start),
        "end_date": None if end is None else day(end),
        "grade": grade,
        "serious": False,
        "related_to_cart": "possible",
        "outcome": "recovered",
    }
    event.update(extra)
    return event


def safety_records() -> list[dict[str, Any]]:
    """SUBJ-001 (SCR-0001): CRS grade 2 on days 1-3, ICANS grade 1 on day 4; SYN-900 safety only."""
    subject = {
        "subject_id": "SUBJ-001",
        "sex": "male",
        "infusion_date": day(0),
        "lymphodepletion_start_date": day(-5),
        "crs_assessments": [
            crs_day(0, 37.0),
            crs_day(1, 38.5),
            crs_day(2, 39.0, oxygen="nasal_cannula"),
            crs_day(3, 38.2),
            crs_day(4, 37.1),
            crs_day(5, 36.9),
        ],
        "icans_assessments": [icans_day(n, 10 if n != 4 else 8) for n in range(0, 5)],
        "labs": [
            lab(-7, "anc", 3.1, "10^9/L", 1.8, 7.5),
            lab(-6, "anc", 2900, "/uL", 1800, 7500),
            lab(0, "anc", 1.2, "10^9/L", 1.8, 7.5),
            lab(7, "anc", 0.4, "10^9/L", 1.8, 7.5),
            lab(-7, "creatinine", 70.0, "µmol/L", 45.0, 84.0),
            lab(7, "creatinine", 0.9, "mg/dL", None, 1.0),
            lab(-7, "igg", 9.5, "g/L", 7.0, 16.0),
            lab(14, "igg", 350.0, "mg/dL", None, None),
            lab(7, "hemoglobin", 95.0, "g/L", 120.0, 160.0),
        ],
        "adverse_events": [
            adverse_event("cytokine release SYNDROME", 1, 3, 1, serious=True, related_to_cart="definite"),
            adverse_event("Fatigue", 0, None, 1),
            adverse_event("Headache", 1, 2, 1, related_to_cart="not_related", outcome="recovering"),
        ],
    }
    safety_only = {
        "subject_id": "SYN-900",
        "sex": "female",
        "infusion_date": "2026-04-01",
        "lymphodepletion_start_date": None,
        "crs_assessments": None,
        "icans_assessments": [],
        "labs": None,
        "adverse_events": [
            {
                "term": "Sepsis",
                "start_date": "2026-04-10",
                "end_date": "2026-04-12",
                "grade": 5,
                "serious": True,
                "related_to_cart": "probable",
                "outcome": "fatal",
            }
        ],
    }
    return [subject, safety_only]


KINETICS = """subject,time,conc,blq,analyte,unit,lloq
SUBJ-001,0,0,1,CAR transgene,copies/ug,20
SUBJ-001,1,150.5,0,CAR transgene,copies/ug,20
SUBJ-001,7.5,90000,0,CAR transgene,copies/ug,20
SUBJ-001,14,30000,0,CAR transgene,copies/ug,20
SUBJ-001,28,800,0,CAR transgene,copies/ug,20
SUBJ-001,56,0,1,CAR transgene,copies/ug,
SYN-900,0,0,1,CAR transgene,copies/ug,20
SYN-900,3,500,0,CAR transgene,copies/ug,20
"""

ENROLMENT = """candidate_id,subject_id,consent_date,enrolment_date
SCR-0001,SUBJ-001,2026-03-01,2026-03-05
SCR-0004,SUBJ-002,2026-03-01,2026-03-06
SCR-0003,,2026-03-02,
"""


def write_ndjson(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def write_study(
    folder: Path,
    screening: list[dict[str, Any]] | None = None,
    safety: list[dict[str, Any]] | None = None,
    kinetics: str = KINETICS,
    enrolment: str | None = None,
) -> dict[str, Path]:
    """The study's input files in ``folder``; returns their paths by option name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "screening": write_ndjson(folder / "screening.ndjson", screening or screening_records()),
        "safety": write_ndjson(folder / "safety.ndjson", safety or safety_records()),
        "kinetics": folder / "samples.csv",
    }
    paths["kinetics"].write_text(kinetics, encoding="utf-8")
    if enrolment is not None:
        paths["enrolment"] = folder / "enrolment.csv"
        paths["enrolment"].write_text(enrolment, encoding="utf-8")
    return paths


ENROLLED_ONLY_KINETICS = "".join(line + "\n" for line in KINETICS.splitlines() if "SYN-900" not in line)
"""The samples of SUBJ-001 only (for studies with an enrolment file, where SYN-900 is not enrolled)."""


def study_input(
    screening: list[dict[str, Any]] | None = None,
    safety: list[dict[str, Any]] | None = None,
    kinetics: str = KINETICS,
    enrolment: str | None = None,
) -> StudyInput:
    """The study in memory, as the web application hands it to the exporter."""
    return StudyInput(
        load_protocol(),
        tuple(
            Sourced(f"screening.ndjson:{i}", parse_record(orjson.dumps(r)))
            for i, r in enumerate(screening if screening is not None else screening_records(), start=1)
        ),
        tuple(
            Sourced(f"safety.ndjson:{i}", SafetyRecord.model_validate_json(orjson.dumps(r)))
            for i, r in enumerate(safety if safety is not None else safety_records(), start=1)
        ),
        kinetics_from_text("samples.csv", kinetics),
        None if enrolment is None else enrolment_from_text("enrolment.csv", enrolment),
        "enrolment.csv",
    )


def enrolled_study() -> StudyInput:
    """SCR-0001 enrolled and treated as SUBJ-001, SCR-0004 enrolled as SUBJ-002 (not treated)."""
    return study_input(safety=safety_records()[:1], kinetics=ENROLLED_ONLY_KINETICS, enrolment=ENROLMENT)


def rows(ds: Dataset) -> list[dict[str, Any]]:
    """A dataset's rows as dicts by variable name."""
    return [dict(zip(ds.meta.names, row, strict=True)) for row in ds.rows]


def dataset(study: Study, name: str) -> list[dict[str, Any]]:
    """The rows of one dataset of a built study."""
    return rows(next(ds for ds in study.datasets if ds.meta.name == name))

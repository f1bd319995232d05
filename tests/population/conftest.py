"""A small mixed FHIR input for the pre-screening tests: synthetic population, worked example, bad lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.fhir.synth import write_population

SCREENING_DATE = "2026-03-02"
OUTPUTS = (
    "records.ndjson",
    "sources.ndjson",
    "intake-report.json",
    "results.ndjson",
    "attrition.csv",
    "worklist.csv",
    "coverage.csv",
    "report.html",
)

BIRTHSEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"


def _line(resource: dict[str, object]) -> bytes:
    return orjson.dumps(resource) + b"\n"


def _patient(pid: str, sex: dict[str, str], born: str) -> dict[str, object]:
    return {"resourceType": "Patient", "id": pid, "extension": [sex], "birthDate": born}


def bad_lines() -> bytes:
    """Lines the intake must report and go past: each kind of problem once, plus a lonely patient."""
    female = {"url": BIRTHSEX, "valueCode": "F"}
    return b"".join(
        [
            _line(
                {
                    "resourceType": "Patient",
                    "id": "lonely-1",
                    "extension": [female],
                    "birthDate": "1990-05-05",
                }
            ),
            b"\n",
            b'{"resourceType": "Observation", "id": "broken"\n',
            _line({"resourceType": "Basic", "id": "basic-1", "subject": {"reference": "Patient/lonely-1"}}),
            _line(
                {
                    "resourceType": "Observation",
                    "id": "orphan-1",
                    "status": "final",
                    "subject": {"reference": "Patient/nobody"},
                    "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                    "effectiveDateTime": "2026-02-01",
                }
            ),
            _line(
                {"resourceType": "Patient", "id": "dup-1", "extension": [female], "birthDate": "1980-01-01"}
            ),
            _line(
                {"resourceType": "Patient", "id": "dup-1", "extension": [female], "birthDate": "1981-01-01"}
            ),
            _line(
                {"resourceType": "Patient", "id": "nosex-1", "gender": "unknown", "birthDate": "1985-03-03"}
            ),
            b'{"resourceType": "Patient", "id": "latin1", "name": [{"text": "Jos\xe9"}]}\n',
            b'["not", "an", "object"]\n',
        ]
    )


@pytest.fixture(scope="session")
def mixed_input(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    """A folder: ``population/`` (synthetic NDJSON), ``example.json`` (worked example), ``bad.ndjson``."""
    root = tmp_path_factory.mktemp("mixed")
    write_population(root / "population", 120, seed=5)
    shutil.copy(
        shared_dir / "spec" / "fhir" / "examples" / "eligible.fhir.bundle.json", root / "example.json"
    )
    (root / "bad.ndjson").write_bytes(bad_lines())
    return root


def input_paths(root: Path) -> list[str]:
    """The command-line paths of the mixed input."""
    return [str(root / "population"), str(root / "example.json"), str(root / "bad.ndjson")]


def prescreen(paths: list[str], out: Path, *extra: str) -> int:
    """Run ``nmocart prescreen`` and return its exit status."""
    result = CliRunner().invoke(
        app,
        ["prescreen", *paths, "--screening-date", SCREENING_DATE, "--out", str(out), "--no-progress", *extra],
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code


@pytest.fixture(scope="session")
def duckdb_out(tmp_path_factory: pytest.TempPathFactory, mixed_input: Path) -> Path:
    """The DuckDB engine's outputs on the mixed input (one worker)."""
    out = tmp_path_factory.mktemp("duckdb") / "out"
    assert prescreen(input_paths(mixed_input), out, "--jobs", "1") == 2
    return out

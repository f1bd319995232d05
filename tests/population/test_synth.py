"""The synthetic FHIR population: same seed same bytes, and shaped like a hospital export."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.fhir.synth import RESOURCE_TYPES, SynthSummary, write_population

PATIENTS = 3000


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth")
    return out, write_population(out, PATIENTS, seed=11)


@pytest.fixture(scope="module")
def population(written: tuple[Path, SynthSummary]) -> Path:
    return written[0]


def _resources(folder: Path, resource_type: str) -> list[dict[str, object]]:
    with open(folder / f"{resource_type}.ndjson", "rb") as stream:
        return [orjson.loads(line) for line in stream]


def _codes(resource: dict[str, object], key: str = "code") -> list[tuple[str, str]]:
    concept = resource.get(key)
    assert isinstance(concept, dict)
    return [(c["system"], c["code"]) for c in concept["coding"]]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    runner = CliRunner()
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        result = runner.invoke(
            app, ["fhir", "synth", "--patients", "300", "--seed", str(seed), "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    for resource_type in RESOURCE_TYPES:
        same = (tmp_path / "a" / f"{resource_type}.ndjson").read_bytes()
        assert same == (tmp_path / "b" / f"{resource_type}.ndjson").read_bytes()
    assert (tmp_path / "a" / "Observation.ndjson").read_bytes() != (
        tmp_path / "c" / "Observation.ndjson"
    ).read_bytes()


def test_every_line_is_a_resource_of_its_file_type_with_a_unique_id(
    population: Path, written: tuple[Path, SynthSummary]
) -> None:
    ids: set[str] = set()
    total = 0
    for resource_type in RESOURCE_TYPES:
        for resource in _resources(population, resource_type):
            assert resource["resourceType"] == resource_type
            key = f"{resource_type}/{resource['id']}"
            assert key not in ids
            ids.add(key)
            total += 1
    assert sum(written[1].resources.values()) == total
    assert sorted(p.name for p in population.iterdir()) == sorted(f"{t}.ndjson" for t in RESOURCE_TYPES)
    assert 25 <= total / PATIENTS <= 35


def test_about_one_patient_in_200_has_nmosd(population: Path, written: tuple[Path, SynthSummary]) -> None:
    nmosd = {
        c["subject"]["reference"]  # type: ignore[index]
        for c in _resources(population, "Condition")
        if ("http://snomed.info/sct", "25044007") in _codes(c)
    }
    assert len(nmosd) == written[1].nmosd
    # binomial(3000, 1/200): mean 15, sd 3.9; these bounds fail with probability < 1e-4
    assert 3 <= len(nmosd) <= 32


def test_units_in_both_systems_and_unmapped_units(population: Path) -> None:
    units: Counter[tuple[str, str]] = Counter()
    for obs in _resources(population, "Observation"):
        quantity = obs.get("valueQuantity")
        if isinstance(quantity, dict):
            units[(_codes(obs)[0][1], str(quantity.get("code", quantity.get("unit"))))] += 1
    assert units[("2160-0", "mg/dL")] > 0
    assert units[("14682-9", "umol/L")] + units[("14682-9", "µmol/L")] > 0
    assert units[("14682-9", "mmol/L")] > 0
    assert units[("1742-6", "U/L")] > 0
    assert units[("1742-6", "[IU]/L")] + units[("1742-6", "IU/L")] > 0
    assert units[("1975-2", "mg/dL")] > 0
    assert units[("14631-6", "umol/L")] + units[("14631-6", "μmol/L")] > 0


def test_partial_dates_and_noise_the_intake_must_filter(population: Path) -> None:
    patients = _resources(population, "Patient")
    birth_lengths = Counter(len(str(p["birthDate"])) for p in patients)
    assert birth_lengths[4] > 0
    assert birth_lengths[7] > 0
    assert birth_lengths[10] > 0.9 * PATIENTS
    assert any("extension" not in p for p in patients)  # sex from gender only
    onsets = [c.get("onsetDateTime") for c in _resources(population, "Condition")]
    assert any(o is not None and len(str(o)) == 7 for o in onsets)
    assert any(o is None for o in onsets)
    statuses = Counter(str(o["status"]) for o in _resources(population, "Observation"))
    assert statuses["preliminary"] > 0
    assert statuses["final"] > statuses["preliminary"]
    verification = Counter(
        str(c["verificationStatus"]["coding"][0]["code"])  # type: ignore[index]
        for c in _resources(population, "Condition")
    )
    assert verification["refuted"] > 0
    assert (population / "Procedure.ndjson").stat().st_size > 0


def test_several_codings_per_concept_and_nmosd_candidates_data(population: Path) -> None:
    conditions = _resources(population, "Condition")
    assert any(len(_codes(c)) >= 2 for c in conditions)
    systems = {s for c in conditions for s, _ in _codes(c)}
    assert {"http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"} <= systems
    observations = _resources(population, "Observation")
    lab_codes = {code for o in observations for code in _codes(o)}
    assert ("http://nmocart.example/fhir/CodeSystem/lab", "aqp4-igg-cba") in lab_codes
    assert any("component" in o for o in observations if ("http://loinc.org", "11524-6") in _codes(o))
    assert (population / "QuestionnaireResponse.ndjson").stat().st_size > 0
    assert (population / "MedicationAdministration.ndjson").stat().st_size > 0

"""The FHIR concept map (spec fhir.md section 6): which codes fill which screening-record target.

The map is data, not code: the study's version ships in the package
(``data/fhir/concept_map_v1.csv``) and a site passes its own file. Every result records the
SHA-256 of the exact bytes used, like the protocol parameters. Loading validates every row
and names the line and the fix of each problem.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal, TypeAlias

__all__ = [
    "DEFAULT_CONCEPT_MAP",
    "HIERARCHICAL_SYSTEMS",
    "ConceptMap",
    "ConceptMapError",
    "ConceptRow",
    "load_concept_map",
    "parse_concept_map",
]

DEFAULT_CONCEPT_MAP = "concept_map_v1.csv"
"""The shipped map, under ``nmocart/data/fhir/``."""

COLUMNS = ("target", "resource", "system", "code", "display", "note")

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ATC = "http://www.whocc.no/atc"
HIERARCHICAL_SYSTEMS = frozenset({ICD10, ICD10CM, ATC})
"""Code systems matched by prefix (dots removed, upper case; the longest matching row wins)."""

MapResource: TypeAlias = Literal["Observation", "Condition", "Medication"]

_SYNDROMES = "optic_neuritis|acute_myelitis|area_postrema|brainstem|diencephalic|cerebral"
_CATEGORIES = (
    "epilepsy|cns_disease|long_qt|arrhythmia|heart_failure|other_cardiac|infection|hepatitis_b"
    "|hepatitis_c|hiv|other"
)
_DRUG_CLASSES = (
    "systemic_corticosteroid|inhaled_corticosteroid|topical_corticosteroid|azathioprine|mycophenolate"
    "|rituximab|other_immunosuppressant|gene_therapy|other"
)
_LAB_TESTS = "creatinine|alt|ast|total_bilirubin|hbsag|anti_hbc|hbv_dna|hcv_ab|hcv_rna|hiv_ag_ab"
_TARGETS: dict[MapResource, re.Pattern[str]] = {
    "Observation": re.compile(
        rf"labs\.({_LAB_TESTS})"
        r"|antibody_tests\.(aqp4_igg|mog_igg)\.(cba|elisa|tissue_iif|other)"
        r"|pregnancy_tests\.(urine|serum)"
        r"|ecgs\.qtc_ms(\.(fridericia|bazett))?"
        r"|tcell_proliferation|pregnant"
    ),
    "Condition": re.compile(rf"nmosd|attacks\.({_SYNDROMES})|conditions\.({_CATEGORIES})"),
    "Medication": re.compile(rf"medications\.({_DRUG_CLASSES})"),
}


class ConceptMapError(ValueError):
    """A concept map that cannot be used; the message names the file, line and fix."""


@dataclass(frozen=True, slots=True)
class ConceptRow:
    """One row of the map: a (system, code) of a resource kind and the record target it fills."""

    target: str
    resource: MapResource
    system: str
    code: str
    display: str
    note: str


def normalise_code(system: str, code: str) -> str:
    """The code as compared: hierarchical systems drop ``.`` and compare in upper case."""
    if system in HIERARCHICAL_SYSTEMS:
        return code.replace(".", "").upper()
    return code


def map_resource_of(resource_type: str) -> MapResource | None:
    """Which map ``resource`` column applies to a FHIR resource type (the medication family is one)."""
    if resource_type == "Observation":
        return "Observation"
    if resource_type == "Condition":
        return "Condition"
    if resource_type in (
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Medication",
    ):
        return "Medication"
    return None


@dataclass(frozen=True)
class ConceptMap:
    """The rows of a concept map, indexed for lookup; picklable (plain dicts and tuples)."""

    rows: tuple[ConceptRow, ...]
    sha256: str
    source: str
    _exact: dict[tuple[str, str, str], ConceptRow] = field(repr=False, compare=False)
    _prefixes: dict[tuple[str, str], dict[str, ConceptRow]] = field(repr=False, compare=False)

    def lookup(self, resource: MapResource, system: str, code: str) -> ConceptRow | None:
        """The row matching a coding of ``resource``'s kind, or None (spec section 6 matching)."""
        if system in HIERARCHICAL_SYSTEMS:
            rows = self._prefixes.get((resource, system))
            if not rows:
                return None
            key = normalise_code(system, code)
            for length in range(len(key), 0, -1):
                row = rows.get(key[:length])
                if row is not None:
                    return row
            return None
        return self._exact.get((resource, system, code))


def _build(rows: list[ConceptRow], sha256: str, source: str) -> ConceptMap:
    exact: dict[tuple[str, str, str], ConceptRow] = {}
    prefixes: dict[tuple[str, str], dict[str, ConceptRow]] = {}
    for row in rows:
        if row.system in HIERARCHICAL_SYSTEMS:
            prefixes.setdefault((row.resource, row.system), {})[normalise_code(row.system, row.code)] = row
        else:
            exact[(row.resource, row.system, row.code)] = row
    return ConceptMap(tuple(rows), sha256, source, exact, prefixes)


def parse_concept_map(data: bytes, source: str) -> ConceptMap:
    """Validate a concept map from CSV bytes; raise :class:`ConceptMapError` listing every problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConceptMapError(f"{source}: not UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise ConceptMapError(
            f"{source}:1: the header must be exactly {','.join(COLUMNS)}; got {','.join(header or [])!r}"
        )
    problems: list[str] = []
    rows: list[ConceptRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            problems.append(f"{source}:{line}: {len(cells)} columns; every row has {len(COLUMNS)}")
            continue
        target, resource, system, code, display, note = (c.strip() for c in cells)
        if resource not in _TARGETS:
            problems.append(
                f"{source}:{line}: resource {resource!r}; use Observation, Condition or Medication"
            )
            continue
        if not _TARGETS[resource].fullmatch(target):
            problems.append(
                f"{source}:{line}: target {target!r} is not a {resource} target of spec section 6;"
                " check the spelling (e.g. labs.creatinine, conditions.epilepsy, medications.rituximab)"
            )
            continue
        if not system or not code:
            problems.append(f"{source}:{line}: system and code are required")
            continue
        key = (resource, system, normalise_code(system, code))
        if key in seen:
            problems.append(
                f"{source}:{line}: {system} {code} is already mapped on line {seen[key]}; keep one"
            )
            continue
        seen[key] = line
        rows.append(ConceptRow(target, resource, system, code, display, note))
    if problems:
        raise ConceptMapError("\n".join(problems))
    if not rows:
        raise ConceptMapError(f"{source}: no rows; a concept map needs at least one mapping")
    return _build(rows, hashlib.sha256(data).hexdigest(), source)


def default_concept_map_bytes() -> bytes:
    """The shipped version-1 map, byte for byte."""
    return (resources.files("nmocart") / "data" / "fhir" / DEFAULT_CONCEPT_MAP).read_bytes()


def load_concept_map(path: Path | None = None) -> ConceptMap:
    """The map in ``path``, or the shipped default when ``path`` is None."""
    if path is None:
        return parse_concept_map(default_concept_map_bytes(), DEFAULT_CONCEPT_MAP)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConceptMapError(f"{path}: cannot read the concept map: {exc.strerror}") from None
    return parse_concept_map(data, str(path))

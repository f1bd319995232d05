"""Try CDISC's open rules engine (CORE, PyPI ``cdisc-rules-engine``) on an nmocart SDTM export.

Not a dependency of nmocart and not run in CI: CORE needs Python 3.12. Run it from a separate
virtual environment::

    ~/.pyenv/versions/3.12*/bin/python -m venv /tmp/core-venv
    /tmp/core-venv/bin/pip install cdisc-rules-engine
    /tmp/core-venv/bin/python benchmarks/core_check.py EXPORT_DIR [--cache DIR]

It reports, honestly, what runs offline: the installed engine's version; whether a rules cache
(``rules.pkl``, the published SDTMIG 3.4 rules) and CT packages are available; CORE's own
readers on every XPT and Dataset-JSON file of the export (CORE's bundled Dataset-JSON schema,
variable names, labels, record counts); and, when a cache with rules is given, how many
SDTMIG 3.4 rules it holds. Exit 0 when the readers agree with the files, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

DATASETS = ("ti", "ie", "dm", "ae", "lb", "pc", "pp")


def _site_packages() -> Path:
    import cdisc_rules_engine

    return Path(cdisc_rules_engine.__file__).resolve().parents[1]


def _cache_report(site: Path, cache: Path | None) -> list[str]:
    """Where a rules cache would be, and whether it is there."""
    lines = []
    bundled = site / "resources" / "cache"
    shipped = sorted(p.name for p in (site / "resources").iterdir()) if (site / "resources").is_dir() else []
    lines.append(f"wheel resources/: {', '.join(shipped) or 'none'}")
    present = "present" if (bundled / "rules.pkl").is_file() else "ABSENT"
    lines.append(f"bundled rules cache {bundled / 'rules.pkl'}: {present}")
    if cache is None:
        lines.append(
            "no --cache given: the published rules (rules.pkl), CT packages (sdtmct-*.pkl) and SDTMIG "
            "metadata come from the cdisc-rules-engine repository's resources/cache or from the CDISC "
            "Library API (an API key and network); neither is reachable offline here, so 0 published "
            "SDTMIG 3.4 rules can run"
        )
        return lines
    rules_file = cache / "rules.pkl"
    if not rules_file.is_file():
        lines.append(f"{rules_file}: not found; 0 published rules can run")
        return lines
    with rules_file.open("rb") as stream:
        rules: dict[str, Any] = pickle.load(stream)  # a trusted, locally cloned CORE cache
    sdtmig = [
        core_id
        for core_id, rule in rules.items()
        if any(
            std.get("Name") == "SDTMIG" and std.get("Version") == "3.4"
            for auth in (rule.get("authorities") or rule.get("Authorities") or [])
            for std in (auth.get("Standards") or [])
        )
    ]
    lines.append(f"{rules_file}: {len(rules)} rules, {len(sdtmig)} for SDTMIG 3.4")
    return lines


def _readers(site: Path, export: Path) -> tuple[list[str], bool]:
    """CORE's XPT and Dataset-JSON metadata readers on every file of the export."""
    from cdisc_rules_engine.services import logger
    from cdisc_rules_engine.services.datasetjson_metadata_reader import DatasetJSONMetadataReader
    from cdisc_rules_engine.services.datasetxpt_metadata_reader import DatasetXPTMetadataReader

    logger.setLevel("error")  # the readers log every file's whole metadata at INFO
    lines: list[str] = []
    ok = True
    here = Path.cwd()
    os.chdir(site)  # CORE opens its bundled schema by the relative path resources/schema/...
    try:
        for name in DATASETS:
            json_path = export / "json" / f"{name}.json"
            xpt_path = export / "xpt" / f"{name}.xpt"
            from_json = DatasetJSONMetadataReader(str(json_path), json_path.name).read()
            from_xpt = DatasetXPTMetadataReader(str(xpt_path), xpt_path.name).read()
            same = (
                bool(from_json)
                and from_json.get("variable_names") == from_xpt.get("variable_names")
                and from_json.get("variable_labels") == from_xpt.get("variable_labels")
                and from_json.get("dataset_length") == from_xpt.get("dataset_length")
                and from_json.get("dataset_label") == from_xpt.get("dataset_label")
            )
            ok &= same
            schema = "valid against CORE schema" if from_json else "REJECTED by CORE schema"
            lines.append(
                f"{name.upper()}: Dataset-JSON {schema}; {from_json.get('number_of_variables')} variables, "
                f"{from_json.get('dataset_length')} records; XPT {from_xpt.get('number_of_variables')} "
                f"variables, {from_xpt.get('dataset_length')} records, "
                f"label {from_xpt.get('dataset_label')!r}: {'agree' if same else 'DIFFER'}"
            )
        define_lines, define_ok = _define(export)
        lines += define_lines
        ok &= define_ok
    finally:
        os.chdir(here)
    return lines, ok


def _define(export: Path) -> tuple[list[str], bool]:
    """CORE's Define-XML 2.1 reader: its schema conformance and the metadata it reads back."""
    import json

    from cdisc_rules_engine.services.define_xml.define_xml_reader_factory import DefineXMLReaderFactory

    reader = DefineXMLReaderFactory.from_filename(str(export / "define.xml"))
    conforms = bool(reader.validate_schema())
    version = reader.get_define_version()
    lines = [
        f"define.xml: {type(reader).__name__}, DefineVersion {version}, CORE schema conformance {conforms}"
    ]
    ok = conforms
    for name in DATASETS:
        doc = json.loads((export / "json" / f"{name}.json").read_text(encoding="utf-8"))
        meta = reader.extract_dataset_metadata(name.upper())
        variables = reader.extract_variables_metadata(name.upper())
        same = (
            meta["define_dataset_variables"] == [c["name"] for c in doc["columns"]]
            and meta["define_dataset_label"] == doc["label"]
            and meta["define_dataset_location"] == f"xpt/{name}.xpt"
            and [v["define_variable_label"] for v in variables] == [c["label"] for c in doc["columns"]]
        )
        ok &= same
        coded = sum(1 for v in variables if v["define_variable_has_codelist"])
        origins = sum(1 for v in variables if v["define_variable_origin_type"])
        keys = ", ".join(meta["define_dataset_key_sequence"])
        lines.append(
            f"define.xml {name.upper()}: {len(variables)} ItemDefs ({coded} with a codelist, {origins} with "
            f"an origin), keys {keys}: {'agree' if same else 'DIFFER'} with the JSON"
        )
    return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="An nmocart cdisc export folder (xpt/, json/, define.xml).")
    parser.add_argument("--cache", type=Path, help="A CORE resources/cache folder (from a repository clone).")
    args = parser.parse_args()
    try:
        version = metadata.version("cdisc-rules-engine")
        site = _site_packages()
    except (metadata.PackageNotFoundError, ImportError):
        print("cdisc-rules-engine is not installed in this Python; see the module docstring", file=sys.stderr)
        return 2
    print(f"cdisc-rules-engine {version} on Python {sys.version.split()[0]}")
    for line in _cache_report(site, args.cache):
        print(line)
    lines, ok = _readers(site, args.export.resolve())
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

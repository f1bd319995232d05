"""Export a study as SDTM (CDISC spec section 1): all or nothing, validated before it is moved in place.

:func:`export_study` is the one entry point: the command line and the web application both hand it
a :class:`~nmocart.cdisc.inputs.StudyInput`. It builds the datasets from the engines, refuses any
value XPT v5 cannot hold, writes XPT, Dataset-JSON and define.xml into a temporary folder beside
the target, validates the files read back, and only then renames the folder into place.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nmocart.cdisc import dataset_json, define
from nmocart.cdisc.domains import Study, build_study
from nmocart.cdisc.inputs import ExportInputError, StudyInput
from nmocart.cdisc.validation import Check, validate_export
from nmocart.cdisc.xpt import v5_problems, write_xpt

CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


class ExportValidationError(RuntimeError):
    """The written files failed a check: nothing was moved into place; ``checks`` says what failed."""

    def __init__(self, checks: list[Check], study: Study) -> None:
        """Keep every check (passed and failed) and the study for the report."""
        failed = [f"{c.name} ({c.target}): {'; '.join(c.failures)}" for c in checks if not c.passed]
        super().__init__("the export failed validation: " + " | ".join(failed))
        self.checks = checks
        self.study = study


@dataclass(frozen=True)
class ExportResult:
    """What was written, the checks that passed, the warnings, and the linked study."""

    folder: Path
    files: tuple[Path, ...]
    checks: tuple[Check, ...]
    warnings: tuple[str, ...]
    study: Study


def check_created(text: str) -> str:
    """The creation date-time ``YYYY-MM-DDThh:mm:ss`` (a real one), or :class:`ExportInputError`."""
    try:
        if not CREATED.match(text):
            raise ValueError(text)
        dt.datetime.fromisoformat(text)
    except ValueError:
        raise ExportInputError(
            [f"--created: {text!r} is not a date-time; write YYYY-MM-DDThh:mm:ss (UTC)"]
        ) from None
    return text


def default_created(environ: dict[str, str] | None = None) -> str:
    """``SOURCE_DATE_EPOCH`` (UTC) when set, else the current UTC time, as ``YYYY-MM-DDThh:mm:ss``."""
    env = os.environ if environ is None else environ
    epoch = env.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            moment = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise ExportInputError(
                [f"SOURCE_DATE_EPOCH: {epoch!r} is not a number of seconds; set it to an integer or unset it"]
            ) from None
    else:
        moment = dt.datetime.now(tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _target_ready(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportInputError([f"{out}: exists and is not an empty folder; give --out a new or empty one"])


def write_files(study: Study, folder: Path, created: str, protocol_name: str) -> list[Path]:
    """XPT, Dataset-JSON and define.xml of every dataset into ``folder`` (which exists)."""
    (folder / "xpt").mkdir()
    (folder / "json").mkdir()
    written = []
    for ds in study.datasets:
        name = ds.meta.name.lower()
        xpt_path = folder / "xpt" / f"{name}.xpt"
        write_xpt(ds, xpt_path)
        json_path = folder / "json" / f"{name}.json"
        json_path.write_bytes(dataset_json.dumps(dataset_json.document(ds, study.studyid, created)))
        written += [xpt_path, json_path]
    odm = define.build_define(study.datasets, study.studyid, protocol_name, created, study.shortened)
    define_path = folder / "define.xml"
    define_path.write_bytes(define.dumps(odm))
    written.append(define_path)
    return written


def export_study(study_input: StudyInput, out: Path, created: str) -> ExportResult:
    """Build, write, validate and move into place the whole export; nothing is left on failure.

    Raises :class:`ExportInputError` (input or format problems: nothing written) or
    :class:`ExportValidationError` (a written file failed a check: nothing moved into place).
    """
    check_created(created)
    _target_ready(out)
    study = build_study(study_input)
    problems = [p for ds in study.datasets for p in v5_problems(ds)]
    if problems:
        raise ExportInputError(problems)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
    try:
        write_files(study, temp, created, study_input.protocol.title)
        checks = validate_export(temp)
        if not all(c.passed for c in checks):
            raise ExportValidationError(checks, study)
        if out.exists():
            out.rmdir()  # empty, checked above
        temp.rename(out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    files = [out / "xpt" / f"{ds.meta.name.lower()}.xpt" for ds in study.datasets]
    files += [out / "json" / f"{ds.meta.name.lower()}.json" for ds in study.datasets]
    files.append(out / "define.xml")
    return ExportResult(out, tuple(files), tuple(checks), study.warnings, study)

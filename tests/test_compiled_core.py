"""The compiled screening core is in use, and a stale one is refused rather than run."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import nmocart
from nmocart.fhir import intake
from nmocart.screening import eligibility


def test_stale_extension_is_refused(tmp_path: Path) -> None:
    extension = tmp_path / "eligibility.cpython-311-x86_64-linux-gnu.so"
    source = tmp_path / "eligibility.py"
    extension.write_bytes(b"")
    source.write_text("")
    os.utime(extension, (1_000_000, 1_000_000))
    os.utime(source, (2_000_000, 2_000_000))
    with pytest.raises(ImportError, match=re.escape(f"{extension.name} is older than {source.name}")):
        nmocart.refuse_stale_compiled_core(tmp_path)


def test_fresh_extension_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "logic.py").write_text("")
    extension = tmp_path / "logic.cpython-311-x86_64-linux-gnu.so"
    extension.write_bytes(b"")
    os.utime(tmp_path / "logic.py", (1_000_000, 1_000_000))
    nmocart.refuse_stale_compiled_core(tmp_path)


def test_screening_core_is_compiled_unless_pure_python_was_asked_for() -> None:
    assert eligibility.__file__ is not None
    pure = os.environ.get("NMOCART_PURE_PYTHON") == "1"
    assert eligibility.__file__.endswith(".py" if pure else ".so")


def test_fhir_record_builder_is_compiled_unless_pure_python_was_asked_for() -> None:
    assert intake.__file__ is not None
    pure = os.environ.get("NMOCART_PURE_PYTHON") == "1"
    assert intake.__file__.endswith(".py" if pure else ".so")

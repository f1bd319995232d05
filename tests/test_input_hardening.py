"""Input hardening: calendar ends, JSON text quirks, protocol checks, bugs and exit statuses."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from nmocart import __version__
from nmocart.batch import FirstSeen
from nmocart.cli import app, main
from nmocart.cli.exits import EXIT_BUG
from nmocart.kernel.dates import days_after, days_before, months_before
from nmocart.kernel.errors import RecordError, readable_id
from nmocart.kernel.json_text import TextEncodingError, repeated_keys, utf8_payload
from nmocart.safety.record import LabResult
from nmocart.screening.protocol import ProtocolError, default_protocol_bytes, parse_protocol
from nmocart.screening.record import check_reference_date, parse_record
from tests.screening.builders import base

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "src" / "nmocart" / "data" / "examples" / "eligible.json"

# --- calendar ends ---------------------------------------------------------------------------


def test_offsets_saturate_at_the_calendar_ends() -> None:
    assert days_before(dt.date(1, 1, 15), 28) == dt.date.min
    assert days_after(dt.date(9999, 12, 30), 183) == dt.date.max
    assert days_after(dt.date(9999, 12, 30), 1) == dt.date(9999, 12, 31)
    assert days_before(dt.date(1, 1, 2), 1) == dt.date.min
    assert months_before(dt.date(1, 1, 15), 1) == dt.date.min
    assert months_before(dt.date(1, 2, 15), 1) == dt.date(1, 1, 15)
    assert months_before(dt.date(9999, 12, 31), -1) == dt.date.max


@given(st.dates(), st.integers(-5_000_000, 5_000_000))
def test_day_offsets_are_exact_inside_and_clamped_outside(day: dt.date, days: int) -> None:
    ordinal = day.toordinal() + days
    expected = dt.date.fromordinal(min(max(ordinal, 1), dt.date.max.toordinal()))
    assert days_after(day, days) == expected
    assert days_before(day, -days) == expected


@given(st.dates(), st.integers(-200_000, 200_000))
def test_month_offsets_never_overflow_and_stay_ordered(day: dt.date, months: int) -> None:
    shifted = months_before(day, months)
    assert (shifted <= day) if months >= 0 else (shifted >= day)


def test_as_of_before_birth_is_an_error_at_the_boundary() -> None:
    record = parse_record(EXAMPLE.read_bytes())
    assert record.birth_date is not None
    check_reference_date(record, record.birth_date)  # age 0: allowed
    with pytest.raises(RecordError) as info:
        check_reference_date(record, record.birth_date - dt.timedelta(days=1))
    assert info.value.problems[0].startswith("birth_date: 1981-11-20 is after the as-of date 1981-11-19")


# --- JSON text -----------------------------------------------------------------------------------


def _reference_repeats(text: str) -> bool:
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found |= len({k for k, _ in pairs}) != len(pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return found


KEYS = st.sampled_from(["a", "b", "sex", "x:y", "é", "\u003a", "k\\"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(alphabet='ab:"\\\u00e9\n', max_size=5))


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON text whose objects may repeat keys (written by hand, as json.dumps cannot)."""

    def value(depth: int) -> str:
        if depth > 2 or draw(st.booleans()):
            return json.dumps(draw(SCALARS), ensure_ascii=draw(st.booleans()))
        if draw(st.booleans()):
            return "[" + ", ".join(value(depth + 1) for _ in range(draw(st.integers(0, 3)))) + "]"
        pairs = [
            f"{json.dumps(draw(KEYS), ensure_ascii=draw(st.booleans()))}: {value(depth + 1)}"
            for _ in range(draw(st.integers(0, 4)))
        ]
        return "{" + ", ".join(pairs) + "}"

    return value(0)


@given(json_texts())
def test_repeated_keys_are_found_exactly(text: str) -> None:
    assert bool(repeated_keys(text)) == _reference_repeats(text)
    assert bool(repeated_keys(text.encode())) == _reference_repeats(text)


def test_repeated_keys_name_their_paths() -> None:
    text = '{"labs": [{"a": 1}, {"unit": "x", "unit": "y"}], "sex": "m", "sex": "f"}'
    assert repeated_keys(text) == ["sex", "labs[1].unit"]
    assert repeated_keys('{"a": "x:y", "b": 1}') == []  # a colon in a string: the slow path agrees


def test_a_repeated_key_changes_no_decision() -> None:
    text = json.dumps(base()).replace('"sex": "male"', '"sex": "male", "sex": "female"')
    with pytest.raises(RecordError) as info:
        parse_record(text)
    assert info.value.problems == ["sex: the key appears more than once in its object; keep one"]
    assert info.value.record_id == "SCR-0001"


def test_byte_order_marks() -> None:
    assert utf8_payload(b"\xef\xbb\xbf{}") == b"{}"
    assert utf8_payload("\ufeff{}") == "{}"
    for encoded in ("{}".encode("utf-16"), "{}".encode("utf-16-le"), "{}".encode("utf-16-be")):
        with pytest.raises(TextEncodingError, match="save the file as UTF-8"):
            utf8_payload(encoded)
    assert utf8_payload(bytes(range(8))) == bytes(range(8))  # binary: left to the JSON parser


def test_ids_with_control_characters_are_never_echoed() -> None:
    assert readable_id('{"candidate_id": "SCR\\u0007"}', "candidate_id") is None
    assert readable_id('{"candidate_id": "SCR-1"}', "candidate_id") == "SCR-1"


# --- reference limits -----------------------------------------------------------------------------


def _lab(**changes: Any) -> str:
    lab = {"date": "2024-01-01", "test": "anc", "value": 1.0, "unit": "10^9/L"}
    lab.update({"lower_limit": 1.8, "upper_limit": 7.7, **changes})
    return json.dumps(lab)


@pytest.mark.parametrize(
    ("changes", "ok"),
    [
        ({"upper_limit": 0}, False),
        ({"upper_limit": 1e-9, "lower_limit": None}, True),
        ({"lower_limit": 0}, False),
        ({"lower_limit": 7.7}, False),
        ({"lower_limit": 7.6999}, True),
        ({"lower_limit": None, "upper_limit": None}, True),
    ],
)
def test_safety_reference_limits_must_be_positive_and_ordered(changes: dict[str, Any], ok: bool) -> None:
    if ok:
        LabResult.model_validate_json(_lab(**changes))
    else:
        with pytest.raises(ValueError, match="limit"):
            LabResult.model_validate_json(_lab(**changes))


# --- protocol files --------------------------------------------------------------------------------


def test_protocol_show_output_is_a_protocol_file(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["protocol", "show"])
    path = tmp_path / "p.json"
    path.write_text(shown.stdout, encoding="utf-8")
    again = runner.invoke(app, ["protocol", "show", "--protocol", str(path)])
    assert again.exit_code == 0
    assert again.stdout == shown.stdout
    default = runner.invoke(app, ["screen", str(EXAMPLE)])
    with_file = runner.invoke(app, ["screen", str(EXAMPLE), "--protocol", str(path)])
    assert with_file.stdout == default.stdout


def test_a_changed_parameter_is_caught_by_the_stated_hash() -> None:
    document = json.loads(runner.invoke(app, ["protocol", "show"]).stdout)
    document["parameters"]["age_max"] = 61
    with pytest.raises(ProtocolError, match=r"parameters_sha256: .* does not match the parameters"):
        parse_protocol(json.dumps(document).encode(), "p.json")
    del document["parameters_sha256"]
    assert parse_protocol(json.dumps(document).encode(), "p.json").parameters.age_max == 61


@pytest.mark.parametrize(
    ("name", "largest"),
    [
        ("rituximab_coverage_days", 36_525),
        ("screening_window_days", 36_525),
        ("relapse_long_window_months", 1_200),
        ("relapses_long_min", 100),
        ("age_max", 150),
        ("transaminase_max_x_uln", 1000),
    ],
)
def test_protocol_parameters_have_sane_ranges(name: str, largest: int) -> None:
    document = json.loads(default_protocol_bytes())
    document["parameters"][name] = largest
    parse_protocol(json.dumps(document).encode(), "p.json")
    document["parameters"][name] = largest + 1
    with pytest.raises(ProtocolError, match=f"parameters.{name}: Input should be less than or equal"):
        parse_protocol(json.dumps(document).encode(), "p.json")


def test_a_protocol_file_with_a_bom_is_read() -> None:
    assert parse_protocol(b"\xef\xbb\xbf" + default_protocol_bytes(), "p.json").version == "1"


# --- duplicates in a batch -------------------------------------------------------------------------


def test_first_seen_names_the_first_occurrence_even_for_the_same_source() -> None:
    seen = FirstSeen("candidate_id")
    assert seen.duplicate("A", "a.json") is None
    assert seen.duplicate(None, "b.json") is None
    assert seen.duplicate("B", "a.json") is None
    message = seen.duplicate("A", "a.json")
    assert message is not None
    assert message.startswith("candidate_id: 'A' already appears at a.json")


def test_screen_out_never_overwrites_a_page(tmp_path: Path) -> None:
    upper, lower, again = tmp_path / "u.json", tmp_path / "l.json", tmp_path / "again.json"
    upper.write_text(json.dumps({**base(), "candidate_id": "SCR-A"}), encoding="utf-8")
    lower.write_text(json.dumps({**base(), "candidate_id": "scr-a"}), encoding="utf-8")
    again.write_text(json.dumps({**base(), "candidate_id": "SCR-A"}), encoding="utf-8")
    out = tmp_path / "pages"
    same = runner.invoke(app, ["screen", str(upper), str(again), "--format", "html", "--out", str(out)])
    assert same.exit_code == 2
    assert f"candidate_id: 'SCR-A' already appears at {upper}" in same.stderr
    assert sorted(p.name for p in out.iterdir()) == ["SCR-A.html"]
    case = runner.invoke(
        app, ["screen", str(upper), str(lower), "--format", "html", "--out", str(tmp_path / "c")]
    )
    assert case.exit_code == 2
    assert "differ only in upper/lower case" in case.stderr


# --- bugs, exit statuses, stdin ---------------------------------------------------------------------


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"nmocart {__version__}\n"


def test_a_bug_in_one_record_is_that_records_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nmocart.batch.screening as screening_batch

    real = screening_batch.screen  # type: ignore[attr-defined]

    def flaky(record: Any, protocol: Any, as_of: Any) -> Any:
        if record.candidate_id == "P-1":
            raise ZeroDivisionError("simulated bug")
        return real(record, protocol, as_of)

    monkeypatch.setattr(screening_batch, "screen", flaky)
    monkeypatch.setenv("NMOCART_CRASH_DIR", str(tmp_path))
    lines = [json.dumps({**base(), "candidate_id": f"P-{i}"}) for i in range(3)]
    result = runner.invoke(app, ["screen", "-"], input="\n".join(lines) + "\n")
    assert result.exit_code == EXIT_BUG
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("candidate_id") for o in out] == ["P-0", None, "P-2"]
    assert out[1]["source"] == "<stdin>:2"
    assert out[1]["error"].startswith("internal error: a bug in nmocart")
    (crash,) = tmp_path.glob("nmocart-crash-*.txt")
    assert "ZeroDivisionError: simulated bug" in crash.read_text(encoding="utf-8")
    assert f"the traceback is saved in {crash}" in result.stderr


def test_an_unexpected_exception_is_one_line_and_exit_70(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nmocart.cli as cli

    def broken(path: Path | None) -> Any:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cli, "load_protocol", broken)
    monkeypatch.setenv("NMOCART_CRASH_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["nmocart", "protocol", "show"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == EXIT_BUG
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: internal error (a bug in nmocart): RuntimeError;")
    (crash,) = tmp_path.glob("nmocart-crash-*.txt")
    assert "RuntimeError: simulated bug" in crash.read_text(encoding="utf-8")


def _cli(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "nmocart", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        **kwargs,
    )


@pytest.mark.parametrize("args", [["screen", "-"], ["safety", "grade", "-"], ["kinetics", "nca", "-"]])
def test_a_closed_stdin_fails_cleanly(args: list[str]) -> None:
    done = _cli(args, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "standard input is closed" in done.stderr + done.stdout

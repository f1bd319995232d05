"""Candidate pages through a browser session: forms for every section, validation messages as
the CLI gives them, versions with reasons, diff, checklist links, sign-off and its invalidation."""

from __future__ import annotations

import re

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nmocart.screening.record import RecordError, parse_record
from tests.web.conftest import Browser, example, example_as

COMPLETION_STEPS: list[tuple[str, dict[str, str]]] = [
    (
        "investigator",
        {
            "action": "save",
            "f.survival_over_12_weeks": "true",
            "f.uncontrolled_disease": "false",
            "f.other_risk": "false",
        },
    ),
    (
        "pregnancy_tests",
        {"action": "add", "f.date": "2026-02-27", "f.specimen": "serum", "f.result": "negative"},
    ),
    ("tcell_proliferation", {"action": "add", "f.date": "2026-02-20", "f.fold_expansion": "12.5"}),
]


def _upload(browser: Browser, name: str, content: bytes) -> str:
    response = browser.post("/candidates/upload", files={"records": (name, content, "application/json")})
    return response.text


def _decision(browser: Browser, candidate_id: str) -> str:
    page = browser.client.get(f"/candidates/{candidate_id}")
    assert page.status_code == 200, page.text
    found = re.search(r'<span class="decision (\w+)">', page.text)
    assert found is not None
    return found[1]


def _save(
    browser: Browser, candidate_id: str, section: str, data: dict[str, str], base: int, reason: str
) -> int:
    response = browser.post(
        f"/candidates/{candidate_id}/edit/{section}", {**data, "base_version": str(base), "reason": reason}
    )
    return response.status_code


def test_upload_then_complete_through_the_forms(browsers: dict[str, Browser]) -> None:
    """The incomplete example becomes eligible once the forms supply the missing data."""
    coordinator = browsers["coordinator"]
    record = example_as("incomplete", "PG-FLOW-1")
    assert "saved" in _upload(coordinator, "incomplete.json", orjson.dumps(record))
    assert _decision(coordinator, "PG-FLOW-1") == "incomplete"
    checklist = coordinator.client.get("/candidates/PG-FLOW-1").text
    # every to-do item links to the form that settles it
    assert 'href="/candidates/PG-FLOW-1/edit/investigator#field-f-survival_over_12_weeks"' in checklist
    assert 'href="/candidates/PG-FLOW-1/edit/pregnancy_tests#form"' in checklist
    assert 'href="/candidates/PG-FLOW-1/edit/candidate#field-f-contraception_agreed"' in checklist
    # evidence pointers link to the record item they name
    assert 'href="/candidates/PG-FLOW-1/versions/1/record#labs-4"' in checklist
    record_page = coordinator.client.get("/candidates/PG-FLOW-1/versions/1/record").text
    assert 'id="labs-4"' in record_page
    version = 1
    for section, data in COMPLETION_STEPS:
        assert _save(coordinator, "PG-FLOW-1", section, data, version, f"complete {section}") == 303
        version += 1
        assert _decision(coordinator, "PG-FLOW-1") == "incomplete"
    candidate_form = coordinator.client.get("/candidates/PG-FLOW-1/edit/candidate").text
    values = dict(re.findall(r'name="(f\.[a-z_]+)" value="([^"]*)"', candidate_form))
    selected = dict(
        re.findall(
            r'name="(f\.[a-z_]+)"[^>]*>\s*(?:<option[^>]*>[^<]*</option>\s*)*?'
            r'<option value="([^"]*)" selected',
            candidate_form,
        )
    )
    form = {**values, **selected, "f.contraception_agreed": "true", "action": "save"}
    assert _save(coordinator, "PG-FLOW-1", "candidate", form, version, "contraception agreed at visit") == 303
    assert _decision(coordinator, "PG-FLOW-1") == "eligible"
    # the saved record is exactly the example plus the completed items
    api = coordinator.client.get("/api/v1/candidates/PG-FLOW-1").json()
    assert api["version"] == version + 1
    assert api["record"]["investigator"] == {
        "survival_over_12_weeks": True,
        "uncontrolled_disease": False,
        "other_risk": False,
        "notes": None,
    }
    assert api["record"]["tcell_proliferation"] == [{"date": "2026-02-20", "fold_expansion": 12.5}]
    assert api["record"]["labs"] == record["labs"]


def test_form_errors_are_the_cli_messages(browsers: dict[str, Browser]) -> None:
    """A bad lab unit gets the same message as the CLI, on the field it names; nothing is saved."""
    coordinator = browsers["coordinator"]
    _upload(coordinator, "r.json", orjson.dumps(example_as("incomplete", "PG-ERR-1")))
    bad = {
        "action": "add",
        "f.date": "2026-02-25",
        "f.test": "creatinine",
        "f.value": "80",
        "f.unit": "mmol/L",
    }
    response = coordinator.post(
        "/candidates/PG-ERR-1/edit/labs", {**bad, "base_version": "1", "reason": "new lab"}
    )
    assert response.status_code == 422
    record = example_as("incomplete", "PG-ERR-1")
    record["labs"] = [
        *record["labs"],
        {"date": "2026-02-25", "test": "creatinine", "value": 80, "unit": "mmol/L"},
    ]
    with pytest.raises(RecordError) as cli:
        parse_record(orjson.dumps(record))
    message = cli.value.problems[0]
    assert message.startswith("labs[9].unit: ")
    assert message.split(": ", 1)[1] in response.text.replace("&#39;", "'")
    assert 'id="field-f-unit-err"' in response.text
    assert coordinator.client.get("/api/v1/candidates/PG-ERR-1").json()["version"] == 1
    # text that is not a number goes to the validator, which names the field
    response = coordinator.post(
        "/candidates/PG-ERR-1/edit/ecgs",
        {
            "action": "add",
            "f.date": "2026-02-25",
            "f.qtc_ms": "four hundred",
            "base_version": "1",
            "reason": "ecg",
        },
    )
    assert response.status_code == 422
    assert "ecgs[1].qtc_ms" in response.text


def test_reason_is_required_after_version_one(browsers: dict[str, Browser]) -> None:
    coordinator = browsers["coordinator"]
    _upload(coordinator, "r.json", orjson.dumps(example_as("incomplete", "PG-WHY-1")))
    data = {"action": "add", "f.date": "2026-02-20", "f.fold_expansion": "7"}
    assert _save(coordinator, "PG-WHY-1", "tcell_proliferation", data, 1, "   ") == 422
    assert _save(coordinator, "PG-WHY-1", "tcell_proliferation", data, 1, "lab report received") == 303


def test_remove_and_section_states(browsers: dict[str, Browser]) -> None:
    """Remove an item; mark a section collected-empty ([]) and not collected (null)."""
    coordinator = browsers["coordinator"]
    _upload(coordinator, "r.json", orjson.dumps(example_as("ineligible", "PG-RM-1")))
    before = coordinator.client.get("/api/v1/candidates/PG-RM-1").json()["record"]
    n = len(before["medications"])
    assert (
        _save(coordinator, "PG-RM-1", "medications", {"action": "remove", "index": "0"}, 1, "entered twice")
        == 303
    )
    after = coordinator.client.get("/api/v1/candidates/PG-RM-1").json()["record"]
    assert after["medications"] == before["medications"][1:]
    assert len(after["medications"]) == n - 1
    assert _save(coordinator, "PG-RM-1", "ecgs", {"action": "not-collected"}, 2, "ECG lost") == 303
    assert coordinator.client.get("/api/v1/candidates/PG-RM-1").json()["record"]["ecgs"] is None
    assert _save(coordinator, "PG-RM-1", "ecgs", {"action": "collected-empty"}, 3, "none done") == 303
    assert coordinator.client.get("/api/v1/candidates/PG-RM-1").json()["record"]["ecgs"] == []


def test_versions_diff_and_old_version(browsers: dict[str, Browser]) -> None:
    coordinator = browsers["coordinator"]
    _upload(coordinator, "r.json", orjson.dumps(example_as("incomplete", "PG-DIFF-1")))
    data = {"action": "add", "f.date": "2026-02-20", "f.fold_expansion": "3"}
    assert _save(coordinator, "PG-DIFF-1", "tcell_proliferation", data, 1, "assay result") == 303
    versions = coordinator.client.get("/candidates/PG-DIFF-1/versions").text
    assert "assay result" in versions
    diff = coordinator.client.get("/candidates/PG-DIFF-1/diff?a=1&b=2").text
    assert "/tcell_proliferation" in diff
    old = coordinator.client.get("/candidates/PG-DIFF-1/versions/1").text
    assert "This is version 1" in old
    assert "INCOMPLETE" in old
    assert _decision(coordinator, "PG-DIFF-1") == "ineligible"  # EX8: fold expansion 3 < 5


def test_script_in_candidate_text_renders_as_text(browsers: dict[str, Browser]) -> None:
    coordinator = browsers["coordinator"]
    record = example_as("incomplete", "PG-XSS-1")
    record["investigator"] = {"notes": "<script>alert(1)</script>"}
    record["medications"] = [{**record["medications"][0], "name": '"><img src=x onerror=alert(2)>'}]
    _upload(coordinator, "x.json", orjson.dumps(record))
    for path in ("/candidates/PG-XSS-1/versions/1/record", "/candidates/PG-XSS-1/edit/medications?index=0"):
        page = coordinator.client.get(path).text
        assert "<script>alert(1)</script>" not in page
        assert "<img src=x" not in page
    page = coordinator.client.get("/candidates/PG-XSS-1/versions/1/record").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_ndjson_upload_goes_on_past_a_bad_line(browsers: dict[str, Browser]) -> None:
    coordinator = browsers["coordinator"]
    lines = [
        orjson.dumps(example_as("eligible", "PG-ND-1")),
        b'{"candidate_id": "PG-ND-2", "sex": "other"}',
        orjson.dumps(example_as("ineligible", "PG-ND-3")),
    ]
    page = _upload(coordinator, "batch.ndjson", b"\n".join(lines) + b"\n")
    assert "batch.ndjson:2" in page
    assert "rejected" in page
    assert coordinator.client.get("/api/v1/candidates/PG-ND-1").status_code == 200
    assert coordinator.client.get("/api/v1/candidates/PG-ND-2").status_code == 404
    assert coordinator.client.get("/api/v1/candidates/PG-ND-3").status_code == 200


def test_sign_then_later_edit_leaves_current_version_unsigned(
    app: FastAPI, browsers: dict[str, Browser], passwords: dict[str, str]
) -> None:
    investigator = browsers["investigator"]
    _upload(investigator, "e.json", orjson.dumps(example_as("eligible", "PG-SIGN-1")))
    form = investigator.client.get("/candidates/PG-SIGN-1/sign").text
    assert "Dr Ines Investigator" in form
    meaning = "I confirm the eligibility decision: eligible"
    assert meaning in form
    wrong = investigator.post(
        "/candidates/PG-SIGN-1/sign", {"password": "wrong", "meaning": meaning, "version": "1"}
    )
    assert wrong.status_code == 401
    ok = investigator.post(
        "/candidates/PG-SIGN-1/sign",
        {"password": passwords["investigator"], "meaning": meaning, "version": "1"},
    )
    assert ok.status_code == 303
    page = investigator.client.get("/candidates/PG-SIGN-1").text
    view = investigator.client.get("/api/v1/candidates/PG-SIGN-1").json()
    assert "Signed</strong> by Dr Ines Investigator" in page
    assert view["record_sha256"] in page
    assert view["result_sha256"] in page
    assert meaning in page
    assert re.search(r"on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)
    data = {"action": "add", "f.date": "2026-02-28", "f.qtc_ms": "440", "f.correction": "fridericia"}
    assert _save(investigator, "PG-SIGN-1", "ecgs", data, 1, "repeat ECG") == 303
    page = investigator.client.get("/candidates/PG-SIGN-1").text
    assert "The current version (2) is unsigned." in page
    assert "version 1</a> by Dr Ines Investigator" in page
    signed_v1 = investigator.client.get("/candidates/PG-SIGN-1/versions/1").text
    assert "Signed</strong> by Dr Ines Investigator" in signed_v1


def test_monitor_cannot_change_anything(browsers: dict[str, Browser]) -> None:
    monitor = browsers["monitor"]
    assert (
        monitor.post(
            "/candidates/upload", files={"records": ("e.json", example("eligible"), "application/json")}
        ).status_code
        == 403
    )
    page = monitor.client.get("/candidates").text
    assert "Add candidates" not in page


def test_admin_sees_the_log_but_no_candidate(browsers: dict[str, Browser]) -> None:
    admin = browsers["admin"]
    assert admin.client.get("/screening-log").status_code == 200
    assert admin.client.get("/candidates").status_code == 403
    log = admin.client.get("/screening-log").text
    assert 'href="/candidates/' not in log


def test_pages_need_a_session(app: FastAPI) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    response = anonymous.get("/candidates?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcandidates%3Fx%3D1"


def test_status_changes_are_investigator_actions_with_history(
    browsers: dict[str, Browser], passwords: dict[str, str]
) -> None:
    investigator = browsers["investigator"]
    _upload(investigator, "e.json", orjson.dumps(example_as("eligible", "PG-ST-1")))
    meaning = "I confirm the eligibility decision: eligible"
    investigator.post(
        "/candidates/PG-ST-1/sign",
        {"password": passwords["investigator"], "meaning": meaning, "version": "1"},
    )
    form = investigator.client.get("/candidates/PG-ST-1/status").text
    assert '<option value="eligible">' in form
    assert '<option value="enrolled">' not in form  # not allowed straight from screening
    changed = investigator.post(
        "/candidates/PG-ST-1/status",
        {"status": "eligible", "effective_date": "2026-03-03", "reason": "signed eligible"},
    )
    assert changed.status_code == 303
    history = investigator.client.get("/candidates/PG-ST-1/status").text
    assert "signed eligible" in history
    assert "2026-03-03" in history
    bad_date = investigator.post(
        "/candidates/PG-ST-1/status", {"status": "consented", "effective_date": "03/04/2026", "reason": "x"}
    )
    assert bad_date.status_code == 422
    assert "effective_date" in bad_date.text
    log = investigator.client.get("/screening-log.csv").text
    row = next(line for line in log.splitlines() if line.startswith("PG-ST-1,"))
    assert ",eligible," in row


def test_upload_size_is_limited(app: FastAPI, database_url: str, passwords: dict[str, str]) -> None:
    from nmocart.web import WebSettings, create_app
    from tests.web.conftest import sign_in

    small = create_app(WebSettings(database_url=database_url, max_upload_bytes=1000), db=app.state.db)
    browser = sign_in(small, "coordinator", passwords["coordinator"])
    response = browser.post(
        "/candidates/upload", files={"records": ("big.json", example("eligible"), "application/json")}
    )
    assert response.status_code == 422
    assert "big.json: larger than" in response.text

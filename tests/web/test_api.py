"""The JSON API of issue 7 section 9: shapes and status codes, optimistic locking, errors."""

from __future__ import annotations

import threading
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import load_protocol
from nmocart.screening.record import parse_record
from tests.web.conftest import example_as


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens(app: FastAPI, passwords: dict[str, str]) -> None:
    client = TestClient(app)
    ok = client.post("/api/v1/tokens", json={"username": "monitor", "password": passwords["monitor"]})
    assert ok.status_code == 201
    assert set(ok.json()) == {"token", "expires_at"}
    bad = client.post("/api/v1/tokens", json={"username": "monitor", "password": "nope"})
    assert bad.status_code == 401
    assert bad.json() == {"error": "wrong user name or password"}
    missing = client.post("/api/v1/tokens", json={"username": "monitor"})
    assert missing.status_code == 422
    assert missing.json()["error"].startswith("password:")


def test_create_returns_the_cli_result(app: FastAPI, tokens: dict[str, str]) -> None:
    client = TestClient(app)
    record = example_as("ineligible", "API-1")
    response = client.post("/api/v1/candidates", json=record, headers=_auth(tokens["coordinator"]))
    assert response.status_code == 201
    body = response.json()
    assert body["candidate_id"] == "API-1"
    assert body["version"] == 1
    cli = screen(parse_record(orjson.dumps(record)), load_protocol()).as_dict()
    assert body["result"] == orjson.loads(orjson.dumps(cli))
    again = client.post("/api/v1/candidates", json=record, headers=_auth(tokens["coordinator"]))
    assert again.status_code == 409
    assert again.json()["error"].startswith("candidate_id:")


def test_invalid_records_get_422_naming_the_field(app: FastAPI, tokens: dict[str, str]) -> None:
    client = TestClient(app)
    auth = _auth(tokens["coordinator"])
    record = example_as("eligible", "API-BAD")
    record["labs"][0]["unit"] = "mmol/L"
    response = client.post("/api/v1/candidates", json=record, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"].startswith("labs[0].unit: 'mmol/L' is not a unit for creatinine")
    for body in (b"", b"{not json", b"[]", b'"text"', b"null"):
        response = client.post(
            "/api/v1/candidates", content=body, headers={**auth, "content-type": "application/json"}
        )
        assert response.status_code == 422, body
        assert "error" in response.json()


def test_get_put_and_optimistic_locking(app: FastAPI, tokens: dict[str, str]) -> None:
    client = TestClient(app)
    auth = _auth(tokens["coordinator"])
    record = example_as("incomplete", "API-2")
    assert client.post("/api/v1/candidates", json=record, headers=auth).status_code == 201
    got = client.get("/api/v1/candidates/API-2", headers=auth).json()
    assert {"candidate_id", "version", "record", "result", "signatures"} <= set(got)
    assert got["record"] == record
    record["tcell_proliferation"] = [{"date": "2026-02-20", "fold_expansion": 9.0}]
    no_reason = client.put(
        "/api/v1/candidates/API-2", json={"record": record, "base_version": 1}, headers=auth
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["error"].startswith("reason")
    ok = client.put(
        "/api/v1/candidates/API-2",
        json={"record": record, "base_version": 1, "reason": "assay"},
        headers=auth,
    )
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = client.put(
        "/api/v1/candidates/API-2",
        json={"record": record, "base_version": 1, "reason": "again"},
        headers=auth,
    )
    assert stale.status_code == 409
    assert client.get("/api/v1/candidates/API-404", headers=auth).status_code == 404


def test_two_clients_editing_at_once_one_wins_one_gets_409(app: FastAPI, tokens: dict[str, str]) -> None:
    """Concurrent saves from the same base: exactly one is stored, the other is told 409."""
    auth = _auth(tokens["coordinator"])
    record = example_as("incomplete", "API-RACE")
    assert TestClient(app).post("/api/v1/candidates", json=record, headers=auth).status_code == 201
    results: dict[str, Any] = {}
    barrier = threading.Barrier(2)

    def edit(name: str, fold: float) -> None:
        edited = {**record, "tcell_proliferation": [{"date": "2026-02-20", "fold_expansion": fold}]}
        client = TestClient(app)
        barrier.wait()
        results[name] = client.put(
            "/api/v1/candidates/API-RACE",
            json={"record": edited, "base_version": 1, "reason": f"edit by {name}"},
            headers=auth,
        )

    threads = [threading.Thread(target=edit, args=(n, f)) for n, f in (("a", 6.0), ("b", 7.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409]
    winner = next(n for n, r in results.items() if r.status_code == 200)
    stored = TestClient(app).get("/api/v1/candidates/API-RACE", headers=auth).json()
    assert stored["version"] == 2
    assert stored["reason"] == f"edit by {winner}"
    versions = TestClient(app).get("/api/v1/candidates/API-RACE/versions", headers=auth).json()
    assert [v["version"] for v in versions] == [1, 2]


def test_signatures(app: FastAPI, tokens: dict[str, str], passwords: dict[str, str]) -> None:
    client = TestClient(app)
    assert (
        client.post(
            "/api/v1/candidates",
            json=example_as("eligible", "API-SIGN"),
            headers=_auth(tokens["coordinator"]),
        ).status_code
        == 201
    )
    meaning = "I confirm the eligibility decision: eligible"
    for role in ("coordinator", "monitor", "admin"):
        refused = client.post(
            "/api/v1/candidates/API-SIGN/signatures",
            json={"password": passwords[role], "meaning": meaning},
            headers=_auth(tokens[role]),
        )
        assert refused.status_code == 403, role
    wrong = client.post(
        "/api/v1/candidates/API-SIGN/signatures",
        json={"password": "wrong", "meaning": meaning},
        headers=_auth(tokens["investigator"]),
    )
    assert wrong.status_code == 401
    signed = client.post(
        "/api/v1/candidates/API-SIGN/signatures",
        json={"password": passwords["investigator"], "meaning": meaning},
        headers=_auth(tokens["investigator"]),
    )
    assert signed.status_code == 201
    body = signed.json()
    assert body["printed_name"] == "Dr Ines Investigator"
    assert body["meaning"] == meaning
    view = client.get("/api/v1/candidates/API-SIGN", headers=_auth(tokens["monitor"])).json()
    assert body["record_sha256"] == view["record_sha256"]
    assert body["result_sha256"] == view["result_sha256"]
    assert len(view["signatures"]) == 1


def test_audit_and_screening_log(app: FastAPI, tokens: dict[str, str]) -> None:
    client = TestClient(app)
    assert (
        client.post(
            "/api/v1/candidates",
            json=example_as("ineligible", "API-LOG"),
            headers=_auth(tokens["coordinator"]),
        ).status_code
        == 201
    )
    entries = client.get("/api/v1/candidates/API-LOG/audit", headers=_auth(tokens["monitor"])).json()
    assert entries
    assert entries[0]["actor"] == "coordinator"
    assert all(e["candidate_id"] == "API-LOG" for e in entries)
    filtered = client.get(
        "/api/v1/audit?candidate=API-LOG&user=coordinator", headers=_auth(tokens["monitor"])
    )
    assert filtered.json() == entries
    bad_date = client.get("/api/v1/audit?since=2026-02-30", headers=_auth(tokens["monitor"]))
    assert bad_date.status_code == 422
    assert bad_date.json()["error"].startswith("since:")
    log = client.get("/api/v1/screening-log", headers=_auth(tokens["admin"])).json()
    row = next(r for r in log["candidates"] if r["candidate_id"] == "API-LOG")
    assert row["decision"] == "ineligible"
    assert row["screen_failure_reasons"]
    csv_text = client.get("/api/v1/screening-log?format=csv", headers=_auth(tokens["admin"]))
    assert csv_text.headers["content-type"].startswith("text/csv")
    assert "API-LOG" in csv_text.text


def test_unauthenticated_and_bad_tokens_get_401(app: FastAPI) -> None:
    client = TestClient(app)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/candidates", headers=headers)
        assert response.status_code == 401
        assert "error" in response.json()

"""The investigators' CDISC SDTM export of what the database holds, as a ZIP, audited."""

from __future__ import annotations

import hashlib
import io
import zipfile

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nmocart.db import candidates, uploads
from nmocart.db.accounts import lookup_token
from tests.cdisc.study import ENROLLED_ONLY_KINETICS, ENROLMENT, safety_records, screening_records
from tests.web.conftest import Browser


def test_export_needs_kinetics_then_downloads_the_study(
    app: FastAPI, browsers: dict[str, Browser], tokens: dict[str, str]
) -> None:
    coordinator = lookup_token(app.state.db, tokens["coordinator"])
    assert coordinator is not None
    for record in screening_records():
        candidates.create_candidate(app.state.db, coordinator, record)
    for record in safety_records()[:1]:  # the enrolled, treated subject
        uploads.store_upload(
            app.state.db, coordinator, "safety", f"{record['subject_id']}.json", orjson.dumps(record)
        )
    investigator = browsers["investigator"]
    missing = investigator.post("/export")
    assert missing.status_code == 422
    assert "kinetics: no kinetics CSV uploaded" in missing.text
    uploads.store_upload(
        app.state.db, coordinator, "kinetics", "samples.csv", ENROLLED_ONLY_KINETICS.encode()
    )
    assert browsers["coordinator"].post("/export").status_code == 403
    bad = investigator.post("/export", files={"enrolment": ("enrolment.csv", b"wrong,header\n", "text/csv")})
    assert bad.status_code == 422
    assert "enrolment.csv" in bad.text
    response = investigator.post(
        "/export", files={"enrolment": ("enrolment.csv", ENROLMENT.encode(), "text/csv")}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    digest = hashlib.sha256(response.content).hexdigest()
    assert response.headers["x-content-sha256"] == digest
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "sdtm/define.xml" in names
    assert {f"sdtm/xpt/{d}.xpt" for d in ("ti", "ie", "dm", "ae", "lb", "pc", "pp")} <= set(names)
    trail = (
        TestClient(app).get("/api/v1/audit", headers={"Authorization": f"Bearer {tokens['monitor']}"}).json()
    )
    export = [e for e in trail if e["action"] == "cdisc_export"]
    assert len(export) == 1
    assert export[0]["actor"] == "investigator"
    assert {"field": "sha256", "old": None, "new": digest} in export[0]["changes"]

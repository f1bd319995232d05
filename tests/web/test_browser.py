"""Playwright driving Debian's Chromium against a real ``nmocart serve``: the coordinator
completes the incomplete example through the forms, the investigator signs, a later edit
leaves the current version unsigned, the monitor finds it all in the audit trail and cannot
change anything. Screenshots of the main pages go to ``$NMOCART_WEB_SCREENSHOTS`` (the
README's ``docs/img``) when set, else to a temporary folder."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from nmocart.db import accounts
from nmocart.db.accounts import SystemOperator
from nmocart.db.database import open_database
from nmocart.demo import example_bytes
from tests.web.server import Server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORDS = {
    "coordinator": "browser-coordinator-pw",
    "investigator": "browser-investigator-pw",
    "monitor": "browser-monitor-pw",
}
NAMES = {
    "coordinator": "Casey Coordinator",
    "investigator": "Dr Ines Investigator",
    "monitor": "Morgan Monitor",
}
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[Server]:
    db = open_database(url=database_url)
    for role, password in PASSWORDS.items():
        accounts.add_user(db, SystemOperator("test"), role, role, NAMES[role], password)
    db.dispose()
    running = Server(database_url)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Path:
    chosen = os.environ.get("NMOCART_WEB_SCREENSHOTS")
    if chosen and database_url.startswith("sqlite"):
        folder = Path(chosen)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("shots")


def sign_in(browser: Browser, server: Server, role: str, viewport: dict[str, int] = LAPTOP) -> Page:
    page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    page.goto(f"{server.base}/login")
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"{NAMES[role]} ({role})")).to_be_visible()
    return page


def decision(page: Page) -> str:
    return page.locator("span.decision").first.inner_text()


def follow_todo(page: Page, starts_with: str) -> None:
    page.locator("ul.todo a", has_text=starts_with).first.click()


def save(page: Page, reason: str) -> None:
    page.locator("#reason-main").fill(reason)
    page.get_by_role("button", name="Save and screen").click()


def test_screening_workflow_in_the_browser(
    browser: Browser, server: Server, shots: Path, tmp_path: Path
) -> None:
    coordinator = sign_in(browser, server, "coordinator")
    # keyboard: the first Tab reaches the skip link
    coordinator.keyboard.press("Tab")
    expect(coordinator.locator("a.skip")).to_be_focused()
    coordinator.goto(f"{server.base}/candidates/new")
    upload = tmp_path / "incomplete.json"
    upload.write_bytes(example_bytes("incomplete"))
    coordinator.get_by_label("A record (.json) or many (.ndjson, one per line)").set_input_files(upload)
    coordinator.get_by_role("button", name="Upload and screen").click()
    coordinator.get_by_role("link", name="SCR-0003").click()
    assert decision(coordinator) == "INCOMPLETE"
    coordinator.screenshot(path=str(shots / "web_checklist_incomplete.png"), full_page=True)

    follow_todo(coordinator, "/investigator/survival_over_12_weeks")
    assert re.search(r"/edit/investigator", coordinator.url)
    coordinator.get_by_label("survival over 12 weeks").select_option("true")
    coordinator.get_by_label("uncontrolled disease").select_option("false")
    coordinator.get_by_label("other risk").select_option("false")
    save(coordinator, "investigator assessment at visit 2")
    assert decision(coordinator) == "INCOMPLETE"

    follow_todo(coordinator, "/pregnancy_tests")
    coordinator.get_by_label("date").fill("2026-02-27")
    coordinator.get_by_label("specimen").select_option("serum")
    coordinator.get_by_label("result").select_option("negative")
    coordinator.screenshot(path=str(shots / "web_edit_form.png"), full_page=True)
    save(coordinator, "serum pregnancy test")
    assert decision(coordinator) == "INCOMPLETE"

    follow_todo(coordinator, "/tcell_proliferation")
    coordinator.get_by_label("date").fill("2026-02-20")
    coordinator.get_by_label("fold expansion").fill("abc")
    save(coordinator, "T-cell assay")
    expect(
        coordinator.get_by_text("tcell_proliferation[0].fold_expansion", exact=False).first
    ).to_be_visible()
    coordinator.get_by_label("fold expansion").fill("12.5")
    save(coordinator, "T-cell assay")
    assert decision(coordinator) == "INCOMPLETE"

    follow_todo(coordinator, "/contraception_agreed")
    coordinator.get_by_label("contraception agreed").select_option("true")
    save(coordinator, "contraception agreed at consent visit")
    assert decision(coordinator) == "ELIGIBLE"
    expect(coordinator.get_by_text("None: every criterion is decided.")).to_be_visible()
    expect(coordinator.get_by_role("link", name="Sign this decision")).to_have_count(0)

    investigator = sign_in(browser, server, "investigator")
    investigator.goto(f"{server.base}/candidates/SCR-0003")
    investigator.get_by_role("link", name="Sign this decision").click()
    expect(investigator.get_by_text("Dr Ines Investigator").first).to_be_visible()
    investigator.get_by_label("Re-enter your password").fill(PASSWORDS["investigator"])
    investigator.screenshot(path=str(shots / "web_sign.png"), full_page=True)
    investigator.get_by_role("button", name="Sign").click()
    signature = investigator.locator(".signature").first
    expect(signature).to_contain_text("Signed by Dr Ines Investigator")
    expect(signature).to_contain_text("I confirm the eligibility decision: eligible")
    expect(signature).to_contain_text("UTC")
    investigator.screenshot(path=str(shots / "web_checklist_signed.png"), full_page=True)

    coordinator.goto(f"{server.base}/candidates/SCR-0003/edit/ecgs")
    coordinator.get_by_label("date").fill("2026-02-28")
    coordinator.get_by_label("qtc ms").fill("438")
    coordinator.get_by_label("correction").select_option("fridericia")
    save(coordinator, "repeat ECG before infusion")
    expect(coordinator.get_by_text("The current version (6) is unsigned.")).to_be_visible()
    coordinator.screenshot(path=str(shots / "web_checklist_unsigned_after_edit.png"), full_page=True)

    monitor = sign_in(browser, server, "monitor")
    monitor.goto(f"{server.base}/audit?candidate=SCR-0003")
    table = monitor.locator("#audit-results table")
    for text in ("create", "sign", "repeat ECG before infusion", "contraception agreed at consent visit"):
        expect(table).to_contain_text(text)
    monitor.screenshot(path=str(shots / "web_audit.png"), full_page=True)
    # the filter answers in place (htmx), keeping the page
    monitor.get_by_label("user").fill("investigator")
    monitor.get_by_role("button", name="Filter").click()
    expect(monitor.locator("#audit-results tbody tr").first).to_contain_text("investigator")
    expect(monitor.locator("#audit-results")).not_to_contain_text("coordinator")

    # the monitor reads everything and can change nothing
    monitor.goto(f"{server.base}/candidates/SCR-0003")
    expect(monitor.get_by_role("link", name="Edit the record")).to_have_count(0)
    expect(monitor.get_by_role("link", name="Sign this decision")).to_have_count(0)
    csrf = monitor.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert csrf
    for path, form in (
        ("/candidates/SCR-0003/edit/ecgs", {"action": "not-collected", "base_version": "6", "reason": "x"}),
        ("/candidates/SCR-0003/sign", {"password": PASSWORDS["monitor"], "meaning": "x", "version": "6"}),
        (
            "/candidates/SCR-0003/status",
            {"status": "withdrawn", "effective_date": "2026-03-03", "reason": "x"},
        ),
    ):
        response = monitor.request.post(f"{server.base}{path}", form={**form, "csrf_token": csrf})
        assert response.status == 403, path
    assert monitor.request.get(f"{server.base}/candidates/new").status == 403

    # the other main pages, on a laptop and on a tablet
    coordinator.goto(f"{server.base}/screening-log")
    coordinator.screenshot(path=str(shots / "web_screening_log.png"), full_page=True)
    coordinator.goto(f"{server.base}/candidates/SCR-0003/versions/6/record")
    coordinator.screenshot(path=str(shots / "web_record.png"), full_page=True)
    tablet = sign_in(browser, server, "investigator", TABLET)
    tablet.goto(f"{server.base}/candidates/SCR-0003")
    tablet.screenshot(path=str(shots / "web_checklist_tablet.png"), full_page=False)
    for page in (coordinator, investigator, monitor, tablet):
        page.close()

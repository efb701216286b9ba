"""The dashboard in a real browser (Playwright driving Debian's chromium) against the sandbox:
sign in, connect through Zoom's OAuth flow, run a sweep, see the findings, export the CSV; a
visitor who is not signed in sees nothing; a privacy officer reads but cannot act.

Set ZOOMGUARD_UPDATE_SCREENSHOT=1 to refresh docs/dashboard.png from the screenshot test.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from support.dashboard import (
    ADMIN,
    OFFICER,
    SECRET_KEY,
    RunningApp,
    add_users,
    dashboard_app,
    db_url_of,
    sandbox_settings,
    serve,
)

from zoomguard import notify, service
from zoomguard.crypto import Vault
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.store import Store, make_engine, upgrade

# A small sandbox Zoom for these tests (the `sandbox` fixture of conftest.py).
pytestmark = pytest.mark.sandbox_config(users=3, meetings=12, noncompliant_share=0.5, seed=11)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (Debian's package)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def running(sandbox: SandboxServer, sqlite_store: Store) -> Iterator[RunningApp]:
    add_users(sqlite_store)
    settings = sandbox_settings(sandbox, db_url_of(sqlite_store))
    app = dashboard_app(settings, sqlite_store)
    with serve(app) as served:
        yield served
        app.extensions["zoomguard"].launcher.join(30)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, base_url: str, who: tuple[str, str]) -> None:
    page.goto(base_url + "/")
    page.get_by_label("Username").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Sign in").click()
    expect(
        page.get_by_role("heading", name="Zoom meetings and the privacy guidance")
    ).to_be_visible()


def test_a_visitor_who_is_not_signed_in_sees_nothing(
    page: Page, running: RunningApp, sandbox: SandboxServer, sqlite_store: Store
) -> None:
    settings = sandbox_settings(sandbox, db_url_of(sqlite_store))
    account = service.connect_s2s(
        settings,
        sqlite_store,
        account_id=sandbox.config.account_id,
        client_id=sandbox.config.client_id,
        client_secret=sandbox.config.client_secret,
        name="Agency account",
    )
    client = service.client_for_account(settings, sqlite_store, account)
    with client:
        service.Sweeper(
            settings, sqlite_store, client, account, profile=service.load_profile(settings)
        ).run()
    topics = {f.topic for f in sqlite_store.findings.open() if f.topic}
    assert topics, "the sweep should have found something to hide"

    for path in ("/", "/connect", "/findings.csv", "/?status=attention"):
        page.goto(running.base_url + path)
        assert page.url.startswith(running.base_url + "/login?next=")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        text = page.content()
        assert "Agency account" not in text
        assert not any(topic in text for topic in topics)
        assert sandbox.config.client_secret not in text


def test_admin_connects_with_zoom_runs_a_sweep_sees_findings_and_exports_csv(
    page: Page, running: RunningApp, sqlite_store: Store, tmp_path: Path
) -> None:
    sign_in(page, running.base_url, ADMIN)
    expect(page.get_by_text("No Zoom account is connected yet")).to_be_visible()

    page.get_by_role("link", name="Connect Zoom account").click()
    page.get_by_role("button", name="Connect with Zoom").click()
    # The sandbox's /oauth/authorize approves and redirects straight back to the callback.
    expect(page.get_by_text("Connected Zoom account")).to_be_visible()
    [account] = sqlite_store.accounts.list_all()
    assert account.auth_type == "oauth"
    assert account.has_refresh_token
    expect(page.get_by_role("cell", name="Connected", exact=True)).to_be_visible()

    page.get_by_role("button", name="Run a sweep now").click()
    expect(page.get_by_text("has started")).to_be_visible()
    # The page refreshes itself (meta refresh, no script) until the sweep is done.
    expect(page.locator("table.findings tbody tr").first).to_be_visible()
    expect(page.get_by_text("A sweep is running")).to_have_count(0)

    open_findings = sqlite_store.findings.open()
    assert open_findings
    expect(page.locator("table.findings tbody tr")).to_have_count(len(open_findings))
    expect(page.locator("figure.chart svg circle")).to_have_count(1)
    guidance = page.get_by_text("Participants use a password to access a meeting.")
    expect(guidance.first).to_be_visible()  # meetings and webinars quote it alike
    expect(page.get_by_role("cell", name="sweep.request")).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV", exact=True).click()
    download = download_info.value
    assert download.suggested_filename.startswith("zoomguard-findings-")
    saved = tmp_path / "findings.csv"
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert len(rows) == len(open_findings)
    assert {r["meeting"] for r in rows} == {f.meeting_id for f in open_findings}
    assert {r["rule"] for r in rows} == {f.rule_id for f in open_findings}


def test_a_privacy_officer_reads_and_exports_but_cannot_connect_or_sweep(
    page: Page, running: RunningApp
) -> None:
    sign_in(page, running.base_url, OFFICER)
    expect(page.get_by_text("Privacy officer")).to_be_visible()
    expect(page.get_by_role("button", name="Run a sweep now")).to_have_count(0)
    expect(page.get_by_role("link", name="Connect Zoom account")).to_have_count(0)
    page.goto(running.base_url + "/connect")
    expect(page.get_by_role("heading", name="Your role does not allow this")).to_be_visible()
    page.goto(running.base_url + "/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV", exact=True).click()
    assert download_info.value.suggested_filename.endswith(".csv")


def test_dashboard_screenshot_after_the_demo_sweeps(browser: Browser, tmp_path: Path) -> None:
    """Three sweeps of a demo account (a dry run, an enforcing sweep, a confirming one), then a
    full-page screenshot of what the privacy officer sees."""
    config = SandboxConfig(users=4, meetings=16, noncompliant_share=0.4, seed=7)
    with SandboxServer(config) as sandbox:
        db = tmp_path / "demo.db"
        upgrade(f"sqlite:///{db}")
        store = Store(make_engine(f"sqlite:///{db}"), Vault(SECRET_KEY))
        try:
            add_users(store)
            settings = sandbox_settings(sandbox, f"sqlite:///{db}")
            account = service.connect_s2s(
                settings,
                store,
                account_id=config.account_id,
                client_id=config.client_id,
                client_secret=config.client_secret,
                name="Community Living BC (sandbox)",
            )
            profile = service.load_profile(settings)

            def sweep(*, dry_run: bool = False) -> None:
                client = service.client_for_account(settings, store, account)
                with client:
                    result = service.Sweeper(
                        settings, store, client, account, profile=profile, dry_run=dry_run
                    ).run()
                assert result.status == "completed"

            sweep(dry_run=True)  # what the account looks like before zoomguard acts
            sweep()  # fixes what it may
            # Hosts keep scheduling: one meeting zoomguard can fix, one only a person can.
            host = next(iter(sandbox.state.users))
            sandbox.state.add_meeting(
                host, topic="Intake planning", settings={"join_before_host": True}
            )
            sandbox.state.add_meeting(host, topic="Case review for client SIN 046 454 286")
            sweep()
            notify.compose_pending(store, settings, service.utcnow())
            app = dashboard_app(settings, store)
            with serve(app) as served:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                sign_in(page, served.base_url, OFFICER)
                expect(page.locator("figure.chart svg circle")).to_have_count(3)
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
                context.close()
        finally:
            store.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("ZOOMGUARD_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

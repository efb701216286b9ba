"""The dashboard: accounts, compliance at a glance, open findings, recent changes, dead events,
unsent alerts, CSV export and "run a sweep now". Server-rendered; no script runs in the page."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from zoomguard import formats as reporting
from zoomguard import notify
from zoomguard.errors import PolicyError
from zoomguard.notify.render import format_value
from zoomguard.rules import policy
from zoomguard.service import load_profile, utcnow
from zoomguard.store import AccountRecord, FindingRecord, SweepRecord
from zoomguard.store.users import ROLE_ADMIN, ROLE_PRIVACY_OFFICER
from zoomguard.webhooks.context import app_context
from zoomguard.webhooks.dashboard import compliance
from zoomguard.webhooks.dashboard.auth import current_user, guard_blueprint, require_role
from zoomguard.webhooks.launcher import Launch

log = logging.getLogger("zoomguard.dashboard")

bp = Blueprint("dashboard", __name__)
guard_blueprint(bp)

MAX_FINDINGS_SHOWN = 500
RECENT_CHANGES = 25
LISTED_PROBLEMS = 20

CSV_HEADERS = (
    "account",
    "meeting",
    "topic",
    "host",
    "start time",
    "rule",
    "rule (plain language)",
    "status",
    "before",
    "after",
    "detail",
    "first seen",
    "last seen",
    "resolved",
)


def _rules_in_force() -> list[str]:
    try:
        rules = load_profile(app_context().settings).rules
    except PolicyError:
        rules = frozenset(policy.RULES)
    return [rule_id for rule_id in policy.RULES if rule_id in rules]


def _filters(accounts: list[AccountRecord]) -> tuple[int | None, str | None, str]:
    """(account pk, rule id, status filter) from the query string; unknown values mean "any"."""
    account_pk = request.args.get("account", type=int)
    if account_pk is not None and all(a.id != account_pk for a in accounts):
        account_pk = None
    rule_id = request.args.get("rule") or None
    if rule_id is not None and len(rule_id) > 64:
        rule_id = None
    status = request.args.get("status", "")
    if status not in compliance.STATUS_FILTERS:
        status = ""
    return account_pk, rule_id, status


@bp.get("/")
def index() -> str:
    context = app_context()
    store, settings, launcher = context.store, context.settings, context.launcher
    now = utcnow()
    accounts = store.accounts.list_all(active_only=False)
    names = {a.id: compliance.account_label(a) for a in accounts}
    account_pk, rule_id, status = _filters(accounts)
    in_view = [a for a in accounts if account_pk is None or a.id == account_pk]

    account_views = [
        compliance.account_view(
            account,
            last_sweep=store.sweeps.last(account.id),
            interval_minutes=settings.sweep_interval_minutes,
            now=now,
            running_here=launcher.running_here(account.id),
            launch_error=launcher.last_error(account.id),
        )
        for account in accounts
    ]
    sweeps = store.sweeps.recent(200, account_pk=account_pk)
    active_ids = {a.id for a in in_view if a.active}
    latest: dict[int | None, SweepRecord] = {
        pk: sweep for pk, sweep in compliance.latest_completed(sweeps).items() if pk in active_ids
    }
    open_findings = store.findings.open(account_pk=account_pk)
    rules_in_force = _rules_in_force()
    shown = compliance.filter_findings(
        open_findings, account_pk=account_pk, rule_id=rule_id, status=status
    )
    outbox = notify.outbox_status(store, now, settings.alert_unsent_warn_seconds)
    return render_template(
        "dashboard.html",
        now=now,
        accounts=account_views,
        any_running=any(view.running for view in account_views),
        names=names,
        overview=compliance.overview(latest, open_findings, rules_in_force),
        trend=compliance.trend_chart(sweeps, names),
        findings=shown[:MAX_FINDINGS_SHOWN],
        findings_total=len(shown),
        max_findings=MAX_FINDINGS_SHOWN,
        rule_options=[
            (rid, policy.RULES[rid].title if rid in policy.RULES else rid)
            for rid in dict.fromkeys([*rules_in_force, *(f.rule_id for f in open_findings)])
        ],
        status_options=compliance.STATUS_FILTER_TITLES,
        status_titles=compliance.STATUS_TITLES,
        rule_titles={rid: rule.title for rid, rule in policy.RULES.items()},
        selected={"account": account_pk, "rule": rule_id or "", "status": status},
        export_args={
            k: v
            for k, v in (("account", account_pk), ("rule", rule_id), ("status", status))
            if v not in (None, "")
        },
        changes=store.audit.recent(RECENT_CHANGES, account_pk=account_pk),
        dead_events=store.inbox.dead_events(limit=LISTED_PROBLEMS),
        unknown_account_events=store.inbox.unknown_account_events(limit=LISTED_PROBLEMS),
        unsent=store.outbox.list_emails(status="pending", limit=LISTED_PROBLEMS),
        outbox=outbox,
        smtp_configured=bool(settings.smtp_url),
    )


@bp.get("/findings.csv")
@require_role(ROLE_PRIVACY_OFFICER)
def export_csv() -> Response:
    context = app_context()
    store = context.store
    accounts = store.accounts.list_all(active_only=False)
    names = {a.id: compliance.account_label(a) for a in accounts}
    account_pk, rule_id, status = _filters(accounts)
    include_resolved = request.args.get("resolved") == "1"
    source = (
        store.findings.including_resolved(account_pk=account_pk)
        if include_resolved
        else store.findings.open(account_pk=account_pk)
    )
    chosen = compliance.filter_findings(
        source, account_pk=account_pk, rule_id=rule_id, status=status
    )
    rows = [_csv_row(f, names) for f in chosen]
    user = current_user()
    log.info("dashboard: user %s exported %d findings as CSV", user.id if user else "?", len(rows))
    body = reporting.to_csv(CSV_HEADERS, rows)
    filename = f"zoomguard-findings-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _csv_row(f: FindingRecord, names: dict[int, str]) -> tuple[Any, ...]:
    rule = policy.RULES.get(f.rule_id)
    # reporting.to_csv defuses formula cells (csv_safe), as for `zoomguard report --format csv`.
    return (
        names.get(f.account_id or 0, ""),
        f.meeting_id,
        f.topic or "",
        f.host_email or f.host_id or "",
        f.start_time or "",
        f.rule_id,
        rule.title if rule else "",
        compliance.STATUS_TITLES.get(f.status, f.status),
        format_value(f.actual),
        "" if f.after is None else format_value(f.after),
        f.detail or "",
        _when(f.first_seen),
        _when(f.last_seen),
        _when(f.resolved_at),
    )


@bp.post("/sweeps")
@require_role(ROLE_ADMIN)
def run_sweep() -> WerkzeugResponse:
    context = app_context()
    store, launcher = context.store, context.launcher
    user = current_user()
    assert user is not None  # guard_blueprint
    dry_run = request.form.get("dry_run") == "1"
    wanted = request.form.get("account", "all")
    accounts = [a for a in store.accounts.list_all(active_only=True)]
    if wanted != "all":
        accounts = [a for a in accounts if str(a.id) == wanted]
        if not accounts:
            abort(404)
    if not accounts:
        flash("No Zoom account is connected yet: connect one first.", "error")
        return redirect(url_for("connect.page"))
    now = utcnow()
    for account in accounts:
        outcome = launcher.start(account, dry_run=dry_run)
        label = compliance.account_label(account)
        if outcome is Launch.STARTED:
            store.audit.append(
                account_pk=account.id,
                actor="dashboard",
                action="sweep.request",
                target=f"account:{account.zoom_account_id}",
                before=None,
                after={"dry_run": dry_run},
                confirmed=None,
                detail=f"requested by {user.username}",
                now=now,
            )
            kind = "A dry run (nothing is changed)" if dry_run else "A sweep"
            flash(f"{kind} of {label} has started. This page refreshes until it is done.")
        else:
            flash(f"{label}: a sweep is {outcome.value}.", "error")
    return redirect(url_for("dashboard.index"))

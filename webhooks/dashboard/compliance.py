"""What the dashboard shows, computed from store records. Pure: records in, view values out.

"Compliant" has two readings and the dashboard shows both:
- *as found*: the share of meetings a sweep found compliant before it changed anything
  (``compliant / meetings`` of the sweep). The trend chart plots this, sweep after sweep: it
  shows whether hosts are creating compliant meetings, which is the point of the guidance.
- *now*: the share of the meetings last swept that have no open finding left that still needs
  something (a finding zoomguard fixed stays open until the next sweep confirms it, but the
  meeting is compliant again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from zoomguard.rules import policy
from zoomguard.store import AccountRecord, FindingRecord, SweepRecord

STILL_OPEN = ("failed", "reported")  # a person must act
STATUS_TITLES = {
    "fixed": "Fixed by zoomguard",
    "failed": "Could not be fixed",
    "reported": "Needs a person",
    "exempt": "Exempt",
}


def share(part: int, whole: int) -> float | None:
    return None if whole <= 0 else max(0.0, min(1.0, part / whole))


def percent(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.0f}%"  # an en dash: no value


# --- accounts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountView:
    account: AccountRecord
    label: str
    connection: str  # "Connected" / "Removed from Zoom"
    connected: bool
    token_ok: bool
    token_text: str
    last_sweep: SweepRecord | None
    next_sweep_text: str
    running: bool
    launch_error: str | None


def account_label(account: AccountRecord) -> str:
    return account.name or account.zoom_account_id


def token_health(account: AccountRecord, now: datetime) -> tuple[bool, str]:
    if not account.active:
        return False, "No credentials: the app was removed from this Zoom account"
    if account.auth_type == "s2s":
        if not account.has_client_secret:
            return False, "No client secret stored: connect again"
        return True, "Server-to-Server credentials stored (encrypted)"
    if not account.has_refresh_token:
        return False, "Zoom no longer accepts the refresh token: connect again"
    expires = account.access_token_expires_at
    if expires is not None and expires > now:
        return True, f"Token valid until {expires:%H:%M} UTC; renews itself"
    return True, "Token expired; renews itself on the next use"


def next_sweep_text(last: SweepRecord | None, interval_minutes: int, now: datetime) -> str:
    if last is None:
        return "At the scheduler's next run"
    due = last.started_at + timedelta(minutes=interval_minutes)
    if due <= now:
        return "Due now (at the scheduler's next run)"
    return f"About {due:%Y-%m-%d %H:%M} UTC"


def account_view(
    account: AccountRecord,
    *,
    last_sweep: SweepRecord | None,
    interval_minutes: int,
    now: datetime,
    running_here: bool,
    launch_error: str | None,
) -> AccountView:
    ok, text = token_health(account, now)
    if last_sweep is not None and last_sweep.status == "failed" and account.active:
        ok, text = False, f"The last sweep failed: {last_sweep.error or 'no reason recorded'}"
    running = running_here or (last_sweep is not None and last_sweep.status == "running")
    return AccountView(
        account=account,
        label=account_label(account),
        connection="Connected" if account.active else "Removed from Zoom",
        connected=account.active,
        token_ok=ok,
        token_text=text,
        last_sweep=last_sweep,
        next_sweep_text=next_sweep_text(last_sweep, interval_minutes, now)
        if account.active
        else "Not swept",
        running=running,
        launch_error=launch_error,
    )


# --- compliance ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    rule_id: str
    title: str
    guidance: str
    fixable: bool
    fixed: int
    needs_action: int  # failed + reported
    exempt: int
    compliant_now: float | None


@dataclass(frozen=True)
class Overview:
    meetings: int  # meetings checked by the latest completed sweep of each account in view
    compliant_as_found: float | None
    compliant_now: float | None
    noncompliant_meetings_now: int
    open_needing_action: int
    swept_at: datetime | None
    rules: list[RuleRow]


def latest_completed(sweeps: Iterable[SweepRecord]) -> dict[int | None, SweepRecord]:
    """The newest completed, non-dry-run sweep of each account."""
    latest: dict[int | None, SweepRecord] = {}
    for sweep in sweeps:
        if sweep.status != "completed":
            continue
        known = latest.get(sweep.account_id)
        if known is None or sweep.started_at > known.started_at:
            latest[sweep.account_id] = sweep
    return latest


def overview(
    latest: Mapping[int | None, SweepRecord],
    open_findings: Sequence[FindingRecord],
    rules_in_force: Iterable[str],
) -> Overview:
    meetings = sum(s.counts.meetings for s in latest.values())
    compliant = sum(s.counts.compliant for s in latest.values())
    needing = [f for f in open_findings if f.status != "fixed"]
    noncompliant_now = len({(f.account_id, f.meeting_id) for f in needing})
    rule_ids = list(dict.fromkeys([*rules_in_force, *(f.rule_id for f in open_findings)]))
    rows: list[RuleRow] = []
    for rule_id in rule_ids:
        rule = policy.RULES.get(rule_id)
        of_rule = [f for f in open_findings if f.rule_id == rule_id]
        needs = sum(1 for f in of_rule if f.status in STILL_OPEN)
        exempt = sum(1 for f in of_rule if f.status == "exempt")
        rows.append(
            RuleRow(
                rule_id=rule_id,
                title=rule.title if rule else rule_id,
                guidance=rule.guidance if rule else "",
                fixable=rule.fixable if rule else False,
                fixed=sum(1 for f in of_rule if f.status == "fixed"),
                needs_action=needs,
                exempt=exempt,
                compliant_now=share(meetings - needs - exempt, meetings),
            )
        )
    swept = [s.finished_at or s.started_at for s in latest.values()]
    return Overview(
        meetings=meetings,
        compliant_as_found=share(compliant, meetings),
        compliant_now=share(meetings - noncompliant_now, meetings),
        noncompliant_meetings_now=noncompliant_now,
        open_needing_action=sum(1 for f in needing if f.status in STILL_OPEN),
        swept_at=max(swept) if swept else None,
        rules=rows,
    )


# --- the trend chart (inline SVG, drawn by the template) -----------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    value: float
    label: str  # when, and which account


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    points: list[ChartPoint]
    gridlines: list[tuple[float, str]]  # (y, label)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def first_label(self) -> str:
        return self.points[0].label.split(" · ")[0] if self.points else ""

    @property
    def last_label(self) -> str:
        return self.points[-1].label.split(" · ")[0] if self.points else ""


def trend_chart(
    sweeps: Sequence[SweepRecord],
    names: Mapping[int, str],
    *,
    width: int = 640,
    height: int = 180,
    limit: int = 30,
) -> TrendChart:
    """Share compliant as found by each completed sweep with meetings, oldest to newest."""
    left, right, top, bottom = 44, width - 12, 12, height - 28
    usable = [s for s in sweeps if s.status == "completed" and s.counts.meetings > 0]
    usable.sort(key=lambda s: (s.started_at, s.id))
    usable = usable[-limit:]
    span = right - left
    points: list[ChartPoint] = []
    for index, sweep in enumerate(usable):
        value = sweep.counts.compliant / sweep.counts.meetings
        x = left + (span / 2 if len(usable) == 1 else span * index / (len(usable) - 1))
        y = bottom - (bottom - top) * value
        who = names.get(sweep.account_id or 0, "")
        label = f"{sweep.started_at:%Y-%m-%d %H:%M} UTC · {who} · {percent(value)} compliant"
        points.append(ChartPoint(x=x, y=y, value=value, label=label))
    gridlines = [(bottom - (bottom - top) * f, f"{f * 100:.0f}%") for f in (0.0, 0.5, 1.0)]
    return TrendChart(width, height, left, right, top, bottom, points, gridlines)


# --- findings ------------------------------------------------------------------------------------


STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "": (),  # every open finding
    "attention": STILL_OPEN,
    "fixed": ("fixed",),
    "failed": ("failed",),
    "reported": ("reported",),
    "exempt": ("exempt",),
}
STATUS_FILTER_TITLES = {
    "": "All open findings",
    "attention": "Needs attention (not fixed, or needs a person)",
    "fixed": STATUS_TITLES["fixed"],
    "failed": STATUS_TITLES["failed"],
    "reported": STATUS_TITLES["reported"],
    "exempt": STATUS_TITLES["exempt"],
}


def filter_findings(
    findings: Sequence[FindingRecord],
    *,
    account_pk: int | None,
    rule_id: str | None,
    status: str,
) -> list[FindingRecord]:
    statuses = STATUS_FILTERS.get(status, ())
    return [
        f
        for f in findings
        if (account_pk is None or f.account_id == account_pk)
        and (not rule_id or f.rule_id == rule_id)
        and (not statuses or f.status in statuses)
    ]

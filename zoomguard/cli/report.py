"""What `zoomguard report` (and the demo) show: open findings, recent changes, dead events and
alerts that could not be sent. Reads the store only; formatting lives in zoomguard.formats.

"Open" means still needing something: a fix that failed, a finding reported for a person, an
exemption. A finding zoomguard fixed stays unresolved in the store until the next completed
sweep no longer sees it, but it is not open: the change that fixed it is listed under recent
changes, and the report says how many such findings there are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from zoomguard import formats as reporting
from zoomguard.config import Settings

FINDING_HEADERS = ("meeting", "host", "topic", "rule", "status", "before", "after", "detail")


def _change(value: Any) -> Any:
    return "(none)" if value is None or value == "" else value


def findings_rows(findings: Sequence[Any]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """Table rows for finding records (the store's dataclasses)."""
    return FINDING_HEADERS, [_finding_row(asdict(f)) for f in findings]


def _finding_row(f: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        f["meeting_id"],
        f.get("host_email") or f.get("host_id") or "",
        f.get("topic") or "",
        f["rule_id"],
        f["status"],
        _change(f.get("actual")),
        _change(f.get("after")),
        f.get("detail") or "",
    )


def build_report(store: Any, settings: Settings, *, limit: int = 20) -> dict[str, Any]:
    """The report as plain data (the JSON format prints it as is).

    ``limit`` caps the recent changes, dead events and unsent alerts listed; ``totals`` says how
    many there are in all, so a shortened list can say so.
    """
    from zoomguard import notify
    from zoomguard.service import utcnow

    now = utcnow()
    last = store.sweeps.last()
    unresolved = store.findings.open()
    outbox = notify.outbox_status(store, now, settings.alert_unsent_warn_seconds)
    counts = store.inbox.count_by_status()
    return {
        "last_sweep": _plain(last) if last is not None else None,
        "open_findings": [_plain(f) for f in unresolved if f.status != "fixed"],
        # Fixed, and waiting for the next sweep to confirm the meeting is still compliant.
        "recently_fixed": [_plain(f) for f in unresolved if f.status == "fixed"],
        "recent_changes": [_plain(a) for a in store.audit.recent(limit=limit)],
        "dead_events": [_plain(e) for e in store.inbox.dead_events(limit=limit)],
        # Events for a Zoom account zoomguard does not know: nothing was done about them.
        "unknown_account_events": [
            _plain(e) for e in store.inbox.unknown_account_events(limit=limit)
        ],
        "outbox": _plain(outbox),
        "unsent_alerts": [
            {
                "id": e.id,
                "subject": e.subject,
                "created_at": e.created_at,
                "attempts": e.attempts,
                "last_error": e.last_error,
            }
            for e in store.outbox.list_emails(status="pending", limit=limit)
        ],
        "totals": {
            "recent_changes": store.audit.count(),
            "dead_events": counts["dead"],
            "unknown_account_events": counts["unknown_account"],
            "unsent_alerts": outbox.pending,
        },
    }


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _heading(title: str, shown: int, total: int) -> str:
    """``Title (N)``, and when the list was cut at --limit, how to see all of it."""
    if total <= shown:
        return f"\n{title} ({total})"
    return (
        f"\n{title} ({total}; the newest {shown} shown, "
        f"`zoomguard report --limit {total}` shows them all)"
    )


def render_report(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return reporting.to_json(report)
    rows = [_finding_row(f) for f in report["open_findings"]]
    if fmt == "csv":
        return reporting.to_csv(FINDING_HEADERS, rows)
    totals = report["totals"]
    parts: list[str] = []
    last = report["last_sweep"]
    if last:
        parts.append(
            f"Last sweep: {last['status']} at {last['started_at']} "
            f"({last['counts']['meetings']} meetings, {last['counts']['webinars']} webinars, "
            f"{last['counts']['fixed']} fixed, {last['counts']['failed']} not fixed)"
        )
        if last.get("note"):
            parts.append(f"Note: {last['note']}")
    else:
        parts.append("No sweep has run yet: run `zoomguard sweep`.")
    parts.append(f"\nOpen findings ({len(rows)})")
    parts.append(reporting.table(FINDING_HEADERS, rows) if rows else "  none")
    fixed = report["recently_fixed"]
    if fixed:
        meetings = len({(f["account_id"], f["meeting_id"]) for f in fixed})
        parts.append(
            f"  {len(fixed)} finding(s) in {meetings} meeting(s) were fixed in Zoom and are not "
            "open: the changes are listed under recent changes."
        )
    changes = report["recent_changes"]
    parts.append(_heading("Recent changes made in Zoom", len(changes), totals["recent_changes"]))
    if changes:
        parts.append(
            reporting.table(
                ("at", "actor", "action", "target", "before", "after", "confirmed"),
                [
                    (
                        c["at"],
                        c["actor"],
                        c["action"],
                        c["target"],
                        c["before"],
                        c["after"],
                        c["confirmed"],
                    )
                    for c in changes
                ],
            )
        )
    else:
        parts.append("  none")
    dead = report["dead_events"]
    parts.append(_heading("Dead webhook events", len(dead), totals["dead_events"]))
    if dead:
        parts.append(
            reporting.table(
                ("id", "event", "attempts", "last error"),
                [(d["id"], d["event"], d["attempts"], d.get("last_error")) for d in dead],
            )
        )
    else:
        parts.append("  none")
    unknown = report["unknown_account_events"]
    parts.append(
        _heading(
            "Events for an unknown Zoom account",
            len(unknown),
            totals["unknown_account_events"],
        )
    )
    if unknown:
        parts.append(
            reporting.table(
                ("id", "event", "received", "why"),
                [(u["id"], u["event"], u["received_at"], u.get("last_error")) for u in unknown],
            )
        )
    else:
        parts.append("  none")
    unsent = report["unsent_alerts"]
    outbox = report["outbox"]
    parts.append(_heading("Alerts waiting to be sent", len(unsent), totals["unsent_alerts"]))
    if unsent:
        parts.append(
            reporting.table(
                ("id", "subject", "created", "attempts", "last error"),
                [
                    (u["id"], u["subject"], u["created_at"], u["attempts"], u["last_error"])
                    for u in unsent
                ],
            )
        )
        if outbox.get("overdue"):
            parts.append(f"  {outbox['overdue']} alert(s) unsent for longer than allowed")
    else:
        parts.append("  none")
    return "\n".join(parts)

"""What `zoomguard report` (and the demo) show: open findings, recent changes, dead events and
alerts that could not be sent. Reads the store only; formatting lives in reporting.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from zoomguard import formats as reporting
from zoomguard.config import Settings

FINDING_HEADERS = ("meeting", "host", "topic", "rule", "status", "before", "after", "detail")


def _change(value: Any) -> Any:
    return "(none)" if value is None or value == "" else value


def findings_rows(findings: Sequence[Any]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    rows = [
        (
            f.meeting_id,
            f.host_email or f.host_id or "",
            f.topic or "",
            f.rule_id,
            f.status,
            _change(f.actual),
            _change(f.after),
            f.detail or "",
        )
        for f in findings
    ]
    return FINDING_HEADERS, rows


def build_report(store: Any, settings: Settings, *, limit: int = 20) -> dict[str, Any]:
    from zoomguard import notify
    from zoomguard.service import utcnow

    now = utcnow()
    last = store.sweeps.last()
    return {
        "last_sweep": _plain(last) if last is not None else None,
        "open_findings": [_plain(f) for f in store.findings.open()],
        "recent_changes": [_plain(a) for a in store.audit.recent(limit=limit)],
        "dead_events": [_plain(e) for e in store.inbox.dead_events(limit=limit)],
        "outbox": _plain(notify.outbox_status(store, now, settings.alert_unsent_warn_seconds)),
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
    }


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def render_report(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return reporting.to_json(report)
    findings = report["open_findings"]
    rows = [
        (
            f["meeting_id"],
            f.get("host_email") or f.get("host_id") or "",
            f.get("topic") or "",
            f["rule_id"],
            f["status"],
            _change(f.get("actual")),
            _change(f.get("after")),
            f.get("detail") or "",
        )
        for f in findings
    ]
    if fmt == "csv":
        return reporting.to_csv(FINDING_HEADERS, rows)
    parts: list[str] = []
    last = report["last_sweep"]
    if last:
        parts.append(
            f"Last sweep: {last['status']} at {last['started_at']} "
            f"({last['counts']['meetings']} meetings, {last['counts']['fixed']} fixed, "
            f"{last['counts']['failed']} not fixed)"
        )
    else:
        parts.append("No sweep has run yet: run `zoomguard sweep`.")
    parts.append(f"\nOpen findings ({len(rows)})")
    parts.append(reporting.table(FINDING_HEADERS, rows) if rows else "  none")
    changes = report["recent_changes"]
    parts.append(f"\nRecent changes made in Zoom ({len(changes)})")
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
    parts.append(f"\nDead webhook events ({len(dead)})")
    if dead:
        parts.append(
            reporting.table(
                ("id", "event", "attempts", "last error"),
                [(d["id"], d["event"], d["attempts"], d.get("last_error")) for d in dead],
            )
        )
    else:
        parts.append("  none")
    unsent = report["unsent_alerts"]
    outbox = report["outbox"]
    parts.append(f"\nAlerts waiting to be sent ({len(unsent)})")
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

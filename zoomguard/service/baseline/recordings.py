"""Clearing out existing cloud recordings: every recording of every active user within the
look-back is trashed or deleted (``ZOOMGUARD_RECORDING_ACTION``), re-read to confirm it is gone,
and recorded as a finding with its alert and audit entry.

Part of a full baseline run (``BaselineRunner.run``) while the policy keeps cloud recording off;
report mode and dry runs only list and record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any

from zoomguard.errors import ZoomAPIError, ZoomAuthError
from zoomguard.notify import RECORDING_COMPLETED
from zoomguard.rules import baseline as bl
from zoomguard.rules import policy
from zoomguard.service.alerts import delivery
from zoomguard.service.baseline.common import BaselineRun
from zoomguard.service.baseline.wording import past, recording_alert
from zoomguard.store.outbox import record_alert


class RecordingCleaner:
    """Finds and removes the cloud recordings of one baseline run."""

    def __init__(self, run: BaselineRun, *, lookback_days: int) -> None:
        self.run = run
        self.lookback_days = lookback_days

    def clean(self, users: Sequence[Mapping[str, Any]]) -> tuple[bl.RecordingResult, ...]:
        """Every cloud recording of every active user within the look-back, per the policy."""
        run = self.run
        today = run.clock().astimezone(UTC).date()
        start = today - timedelta(days=self.lookback_days)

        def one_user(user: Mapping[str, Any]) -> list[bl.RecordingResult]:
            user_id = str(user.get("id") or "")
            email = user.get("email") if isinstance(user.get("email"), str) else None
            found = []
            for item in run.client.list_user_recordings(user_id, start, today):
                run.check_stop()
                found.append(self._handle(item, email))
            return found

        results: list[bl.RecordingResult] = []
        errors_before = len(run.errors)
        for batch in run.map(one_user, list(users)):
            results.extend(batch)
        if len(run.errors) == errors_before:  # every user's recordings were listed
            seen = {f"recording:{r.uuid}" for r in results}
            run.resolve_targets(
                t for t, rule in run.open if rule == bl.RECORDING_RULE_ID and t not in seen
            )
        return tuple(results)

    def _handle(self, item: Mapping[str, Any], host_email: str | None) -> bl.RecordingResult:
        run = self.run
        uuid = str(item.get("uuid") or "")
        meeting_id = str(item.get("id") or "")
        files = item.get("recording_files")
        count = len(files) if isinstance(files, list) else int(item.get("recording_count") or 0)
        topic = item.get("topic")
        action_wanted = run.settings.recording_action
        start_time = item.get("start_time")
        host_id = item.get("host_id")
        found = bl.RecordingResult(
            meeting_id=meeting_id,
            uuid=uuid,
            host_id=host_id if isinstance(host_id, str) else None,
            host_email=host_email,
            topic=policy.redact(topic) if isinstance(topic, str) else None,
            start_time=start_time if isinstance(start_time, str) else None,
            files=count,
            total_size=int(item.get("total_size") or 0),
            action="reported",
        )
        if not run.enforce or action_wanted == "report" or not uuid:
            if run.dry_run and action_wanted != "report":
                detail = f"dry run: would be {past(action_wanted)}"
            elif action_wanted == "report":
                detail = "ZOOMGUARD_RECORDING_ACTION is report: not removed"
            else:
                detail = "report mode: not removed"
            result = replace(found, detail=detail)
            self._record(result, requested=None)
            return result
        try:
            removed = run.client.delete_recordings(uuid, action=action_wanted)
        except ZoomAuthError:
            raise
        except ZoomAPIError as exc:
            result = replace(found, action="failed", detail=f"Zoom refused to remove it ({exc})")
            self._record(result, requested=None)
            return result
        # Re-read: a removal counts only when Zoom no longer has the recording.
        still_there = run.client.get_recordings(uuid) is not None
        if not removed and not still_there:
            # Zoom says there is none: it was removed by someone else since it was listed.
            return replace(found, action="gone", detail="already removed when zoomguard acted")
        if still_there:
            detail = (
                "Zoom still has the recording after removing it"
                if removed
                else "Zoom answered that there is no recording, but still has it"
            )
            result = replace(found, action="failed", detail=detail)
        else:
            result = replace(found, action=past(action_wanted))
        self._record(result, requested=action_wanted if removed else None)
        return result

    def _record(self, result: bl.RecordingResult, *, requested: str | None) -> None:
        """Finding, alert and (when Zoom accepted a removal: ``requested``) audit entry."""
        run = self.run
        target = f"recording:{result.uuid}"
        status = {"trashed": "fixed", "deleted": "fixed", "failed": "failed"}.get(
            result.action, "reported"
        )
        now = run.clock()
        with run.store.transaction() as session:
            run.store.upsert_finding(
                session,
                account_pk=run.account.id,
                sweep_id=None,
                meeting_id=target[:64],
                host_id=result.host_id,
                host_email=result.host_email,
                topic=result.topic,
                start_time=result.start_time,
                rule_id=bl.RECORDING_RULE_ID,
                field="cloud recording",
                expected="no cloud recording",
                actual=f"{result.files} file(s)",
                after=result.action if result.action in ("trashed", "deleted") else None,
                status=status,
                detail=result.detail,
                now=now,
            )
            if run.open.get((target[:64], bl.RECORDING_RULE_ID)) != status:
                record_alert(
                    session,
                    account_pk=run.account.id,
                    sweep_id=None,
                    delivery=delivery(run.settings, RECORDING_COMPLETED),
                    category=RECORDING_COMPLETED,
                    details=recording_alert(result, status),
                    now=now,
                )
            if requested is not None:
                run.store.append_audit(
                    session,
                    account_pk=run.account.id,
                    actor=run.actor,
                    action=f"recording.{requested}",
                    target=f"meeting:{result.meeting_id} instance {result.uuid}",
                    before={"files": result.files, "total_size": result.total_size},
                    after={"status": result.action},
                    confirmed=result.action in ("trashed", "deleted"),
                    detail=result.detail,
                    now=now,
                )

"""Enforce the policy on one meeting: evaluate, fix with one PATCH, re-read, record.

Used by the sweep (every meeting of an account) and by the webhook worker (one meeting that was
just created or changed), so both paths make the same decisions and write the same records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from zoomguard.config import Settings
from zoomguard.errors import ZoomAPIError, ZoomNotFound, ZoomRateLimited
from zoomguard.masking import passcode_state
from zoomguard.rules import policy
from zoomguard.service.alerts import alert_category, alert_delivery, alert_details
from zoomguard.service.clients import Clock, utcnow
from zoomguard.service.failures import FixFailure
from zoomguard.service.outcome import MeetingOutcome
from zoomguard.store import AccountRecord, Store
from zoomguard.zoom.client import ZoomClient


def _field_value(meeting: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = meeting
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _patched_paths(patch: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _patched_paths(value, path + ".")
        else:
            yield path


MEETING_UPDATE = "meeting.update"

# A finding that stays reported or exempt sweep after sweep is alerted once, when first seen.
QUIET_WHEN_UNCHANGED = frozenset({"reported", "exempt"})


class MeetingEnforcer:
    """Decides and applies the fix for one meeting at a time; safe to share across threads."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: ZoomClient,
        account: AccountRecord,
        *,
        profile: policy.Profile,
        dry_run: bool = False,
        actor: str = "sweep",
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.account = account
        self.profile = profile
        self.dry_run = dry_run
        self.actor = actor
        self.clock = clock

    def enforce(
        self,
        meeting: Mapping[str, Any],
        *,
        host_email: str | None,
        today: date,
        hold_back: str | None = None,
    ) -> MeetingOutcome | None:
        """Evaluate one meeting and fix it if allowed; None when it is compliant.

        ``hold_back`` names why a fix must not be sent now (it is then reported with that reason).
        """
        evaluation = policy.evaluate(meeting, self.profile, today=today, host_email=host_email)
        if evaluation.compliant:
            return None
        statuses: dict[str, str] = {}
        details: dict[str, str | None] = {}
        after: dict[str, Any] = {}
        if evaluation.exemption is not None:
            for f in evaluation.findings:
                statuses[f.rule_id] = "exempt"
                details[f.rule_id] = evaluation.exemption.reason
            return self._outcome(evaluation, statuses, details, after, meeting, None, None)
        for f in evaluation.findings:
            statuses[f.rule_id] = "reported"
            details[f.rule_id] = None if f.fixable else "report only: a person must act"
        if hold_back is not None or not evaluation.patch or self.dry_run:
            if evaluation.patch:
                for f in evaluation.fixable_findings:
                    details[f.rule_id] = hold_back or "dry run: would be fixed"
            return self._outcome(evaluation, statuses, details, after, meeting, None, None)
        return self._patch(evaluation, meeting, statuses, details, after, today)

    def _patch(
        self,
        evaluation: policy.Evaluation,
        meeting: Mapping[str, Any],
        statuses: dict[str, str],
        details: dict[str, str | None],
        after: dict[str, Any],
        today: date,
    ) -> MeetingOutcome:
        fixable = evaluation.fixable_findings
        host_id = evaluation.host_id or ""

        failures: dict[str, FixFailure] = {}

        def fail_all(kind: FixFailure, reason: str) -> MeetingOutcome:
            for f in fixable:
                statuses[f.rule_id] = "failed"
                details[f.rule_id] = reason
                failures[f.rule_id] = kind
            return self._outcome(
                evaluation, statuses, details, after, meeting, None, False, failures
            )

        if not self.store.budget.reserve(
            self.account.id, host_id, today, self.settings.update_budget
        ):
            return fail_all(FixFailure.UPDATE_CAP, "could not fix: daily update limit")
        # Audit before effect: should this process die between the PATCH and its record, the
        # intent tells the next reconciliation what to look for in Zoom.
        paths = list(_patched_paths(evaluation.patch))
        intent_id = self.store.audit.begin(
            account_pk=self.account.id,
            actor=self.actor,
            action=MEETING_UPDATE,
            target=f"meeting:{evaluation.meeting_id}",
            before={p: passcode_state(p, _field_value(meeting, p)) for p in paths},
            intended={p: passcode_state(p, _field_value(evaluation.patch, p)) for p in paths},
            now=self.clock(),
        )

        def not_made(kind: FixFailure, reason: str) -> MeetingOutcome:
            self.store.audit.abandon(intent_id, detail=reason)
            return fail_all(kind, reason)

        try:
            self.client.update_meeting(evaluation.meeting_id, evaluation.patch)
        except ZoomRateLimited as exc:
            if exc.reason == "daily_update_limit":
                return not_made(FixFailure.UPDATE_CAP, "could not fix: daily update limit")
            self.store.budget.release(self.account.id, host_id, today)
            return not_made(FixFailure.RATE_LIMITED, f"could not fix: {exc}")
        except ZoomNotFound:
            self.store.budget.release(self.account.id, host_id, today)
            return not_made(FixFailure.MEETING_GONE, "could not fix: the meeting was deleted")
        except ZoomAPIError as exc:
            return not_made(FixFailure.REFUSED, f"could not fix: Zoom refused the change ({exc})")
        # A failure from here on (Zoom unreachable for the re-read, the process killed) leaves
        # the intent unsettled: reconciliation re-reads the meeting and settles it, once.
        reread = self.client.get_meeting(evaluation.meeting_id)
        if reread is None:
            return not_made(
                FixFailure.MEETING_GONE, "could not confirm: the meeting was deleted after the fix"
            )
        fixed, still = policy.verify(evaluation, reread, self.profile, today=today)
        for f in fixed:
            statuses[f.rule_id] = "fixed"
            details[f.rule_id] = None
            after[f.rule_id] = passcode_state(f.field, _field_value(reread, f.field))
        for f in still:
            if f.fixable:
                statuses[f.rule_id] = "failed"
                failures[f.rule_id] = FixFailure.OVERRIDDEN
                details[f.rule_id] = (
                    "Zoom kept the old value after the fix: a locked account or group setting, "
                    "or Zoom's own security rule, overrides it"
                )
                after[f.rule_id] = passcode_state(f.field, _field_value(reread, f.field))
        outcome = self._outcome(
            evaluation,
            statuses,
            details,
            after,
            meeting,
            reread,
            not any(f.fixable for f in still),
            failures,
        )
        return replace(outcome, intent_id=intent_id)

    def _outcome(
        self,
        evaluation: policy.Evaluation,
        statuses: dict[str, str],
        details: dict[str, str | None],
        after: dict[str, Any],
        before: Mapping[str, Any],
        reread: Mapping[str, Any] | None,
        confirmed: bool | None,
        failures: Mapping[str, FixFailure] | None = None,
    ) -> MeetingOutcome:
        paths = list(_patched_paths(evaluation.patch)) if reread is not None else []
        return MeetingOutcome(
            evaluation=evaluation,
            statuses=statuses,
            details=details,
            after=after,
            patched=reread is not None,
            confirmed=confirmed,
            before_values={p: passcode_state(p, _field_value(before, p)) for p in paths},
            after_values={p: passcode_state(p, _field_value(reread, p)) for p in paths},
            start_time=_text_or_none(before.get("start_time")),
            failures=dict(failures or {}),
        )

    # Recording --------------------------------------------------------------------------------

    def record(self, sweep_id: int | None, outcome: MeetingOutcome, host_email: str | None) -> None:
        """Write the findings, their alerts and the audit entry in one transaction."""
        evaluation = outcome.evaluation
        now = self.clock()
        meeting_id = evaluation.meeting_id
        with self.store.transaction() as session:
            if outcome.patched and outcome.intent_id is not None:
                settled_here = self.store.audit.complete(
                    outcome.intent_id,
                    after=outcome.after_values,
                    confirmed=outcome.confirmed,
                    session=session,
                )
                if not settled_here:
                    # A reconciliation settled (and alerted) this change meanwhile: the audit
                    # entry and the alert exist once already.
                    return
            for f in evaluation.findings:
                status = outcome.statuses[f.rule_id]
                previous = self.store.findings.open_status(
                    self.account.id, meeting_id, f.rule_id, session=session
                )
                self.store.findings.upsert(
                    account_pk=self.account.id,
                    sweep_id=sweep_id,
                    meeting_id=meeting_id,
                    host_id=evaluation.host_id,
                    host_email=host_email,
                    topic=evaluation.topic,
                    start_time=outcome.start_time,
                    rule_id=f.rule_id,
                    field=f.field,
                    expected=f.expected,
                    actual=f.actual,
                    after=outcome.after.get(f.rule_id),
                    status=status,
                    detail=outcome.details.get(f.rule_id),
                    now=now,
                    session=session,
                )
                if status in QUIET_WHEN_UNCHANGED and previous == status:
                    continue  # already told: an open report is not repeated every sweep
                self.store.outbox.record_alert(
                    account_pk=self.account.id,
                    sweep_id=sweep_id,
                    delivery=alert_delivery(
                        self.settings, status, outcome.failures.get(f.rule_id), f.rule_id
                    ),
                    category=alert_category(status, outcome.failures.get(f.rule_id), f.rule_id),
                    details=alert_details(
                        evaluation, f, status, outcome, host_email, self.settings
                    ),
                    now=now,
                    session=session,
                )
            if outcome.patched and outcome.intent_id is None:
                self.store.audit.append(
                    account_pk=self.account.id,
                    actor=self.actor,
                    action=MEETING_UPDATE,
                    target=f"meeting:{meeting_id}",
                    before=outcome.before_values,
                    after=outcome.after_values,
                    confirmed=outcome.confirmed,
                    now=now,
                    session=session,
                )

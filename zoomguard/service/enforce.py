"""Enforce the policy on one meeting or webinar: evaluate, fix with one PATCH, re-read, record.

Used by the sweep (every meeting and webinar of an account) and by the webhook worker (one that
was just created or changed), so both paths make the same decisions and write the same records.
A webinar goes through the same steps with its own rules and endpoints (``kind=WEBINAR``); its
findings are filed under its ID and its audit entries read ``webinar.update`` /
``webinar:{id}``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any

from zoomguard.config import Settings
from zoomguard.errors import ZoomAPIError, ZoomNotFound, ZoomRateLimited
from zoomguard.masking import passcode_state
from zoomguard.rules import policy
from zoomguard.rules.passcodes import PasscodeRequirement, generate_passcode, passcode_maker
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


# Between a meeting's id and an occurrence's in the id its findings are filed under.
OCCURRENCE_SEPARATOR = " occurrence "


def split_occurrence(meeting_key: str) -> tuple[str, str | None]:
    """(meeting id, occurrence id or None) of the id findings are filed under."""
    meeting_id, _, occurrence_id = meeting_key.partition(OCCURRENCE_SEPARATOR)
    return meeting_id, occurrence_id or None


# The audit actions of a fix, and so of its intent (``zoomguard.service.reconcile`` settles them).
MEETING_UPDATE = "meeting.update"
WEBINAR_UPDATE = "webinar.update"

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
        # Host id -> the host's meeting_security settings as read (None: the read failed),
        # read at most once per host by this enforcer (one sweep, or one event).
        self._host_security: dict[str, Mapping[str, Any] | None] = {}
        self._host_lock = threading.Lock()
        self._per_host_locks: dict[str, threading.Lock] = {}

    def enforce(
        self,
        meeting: Mapping[str, Any],
        *,
        host_email: str | None,
        today: date,
        hold_back: str | None = None,
        occurrence_id: str | None = None,
        kind: str = policy.MEETING,
    ) -> MeetingOutcome | None:
        """Evaluate one meeting (or webinar) and fix it if allowed; None when it is compliant.

        ``hold_back`` names why a fix must not be sent now (it is then reported with that reason).
        With ``occurrence_id``, ``meeting`` is that occurrence as Zoom returns it: only the
        rules an occurrence can break on its own are checked (``policy.OCCURRENCE_CATALOG``:
        the rest, such as the waiting room's options, are the series', checked and fixed with
        the series), the fix goes to that occurrence, and its findings are filed as
        "<meeting id> occurrence <occurrence id>".
        """
        host_id = meeting.get("host_id")
        profile = self.profile
        occurrence = occurrence_id is not None
        host = policy.UNKNOWN_HOST
        if kind == policy.WEBINAR:
            evaluation = policy.evaluate_webinar(
                meeting,
                profile,
                today=today,
                host_email=host_email,
                make_passcode=lambda: self._passcodes_for(host_id)(),
            )
        else:
            if not occurrence:  # no occurrence rule defers to the host's settings
                host = self._host_settings_for(meeting, profile)
            evaluation = policy.evaluate(
                meeting,
                profile,
                today=today,
                host_email=host_email,
                make_passcode=lambda: self._passcodes_for(host_id)(),
                host=host,
                occurrence=occurrence,
            )
        if occurrence and evaluation.meeting_id:
            evaluation = dataclasses.replace(
                evaluation,
                meeting_id=f"{evaluation.meeting_id}{OCCURRENCE_SEPARATOR}{occurrence_id}",
            )
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
        return self._patch(evaluation, meeting, statuses, details, after, today, host)

    def _patch(
        self,
        evaluation: policy.Evaluation,
        meeting: Mapping[str, Any],
        statuses: dict[str, str],
        details: dict[str, str | None],
        after: dict[str, Any],
        today: date,
        host: policy.HostSettings,
    ) -> MeetingOutcome:
        fixable = evaluation.fixable_findings
        host_id = evaluation.host_id or ""
        noun = evaluation.kind

        failures: dict[str, FixFailure] = {}

        def fail_all(kind: FixFailure, reason: str) -> MeetingOutcome:
            for f in fixable:
                statuses[f.rule_id] = "failed"
                details[f.rule_id] = reason
                failures[f.rule_id] = kind
            return self._outcome(
                evaluation, statuses, details, after, meeting, None, False, failures
            )

        meeting_id, occurrence_id = split_occurrence(evaluation.meeting_id)
        # Audit before effect: should this process die between the PATCH and its record, the
        # intent tells the next reconciliation what to look for in Zoom. The update budget's
        # reservation and the intent are committed together, before the PATCH (one write
        # transaction where there were two: on SQLite every one waits for the write lock).
        paths = list(_patched_paths(evaluation.patch))
        intent_id: int | None = None
        with self.store.core_transaction() as session:
            if self.store.budget.reserve(
                self.account.id, host_id, today, self.settings.update_budget, session=session
            ):
                intent_id = self.store.audit.begin(
                    account_pk=self.account.id,
                    actor=self.actor,
                    action=f"{evaluation.kind}.update",
                    target=f"{evaluation.kind}:{evaluation.meeting_id}",
                    before={p: passcode_state(p, _field_value(meeting, p)) for p in paths},
                    intended={
                        p: passcode_state(p, _field_value(evaluation.patch, p)) for p in paths
                    },
                    now=self.clock(),
                    session=session,
                )
        if intent_id is None:
            return fail_all(FixFailure.UPDATE_CAP, "could not fix: daily update limit")

        def not_made(kind: FixFailure, reason: str) -> MeetingOutcome:
            self.store.audit.abandon(intent_id, detail=reason)
            return fail_all(kind, reason)

        refused_passcode: str | None = None
        try:
            refused_passcode = self._send(
                evaluation.kind, meeting_id, evaluation.patch, occurrence_id
            )
        except ZoomRateLimited as exc:
            if exc.reason == "daily_update_limit":
                return not_made(FixFailure.UPDATE_CAP, "could not fix: daily update limit")
            self.store.budget.release(self.account.id, host_id, today)
            return not_made(FixFailure.RATE_LIMITED, f"could not fix: {exc}")
        except ZoomNotFound:
            self.store.budget.release(self.account.id, host_id, today)
            return not_made(FixFailure.MEETING_GONE, f"could not fix: the {noun} was deleted")
        except ZoomAPIError as exc:
            return not_made(FixFailure.REFUSED, f"could not fix: Zoom refused the change ({exc})")
        # A failure from here on (Zoom unreachable for the re-read, the process killed) leaves
        # the intent unsettled: reconciliation re-reads the meeting and settles it, once.
        reread = (
            self.client.get_webinar(meeting_id)
            if evaluation.kind == policy.WEBINAR
            else self.client.get_meeting(meeting_id, occurrence_id)
        )
        if reread is None:
            return not_made(
                FixFailure.MEETING_GONE, f"could not confirm: the {noun} was deleted after the fix"
            )
        fixed, still = policy.verify(evaluation, reread, self.profile, today=today, host=host)
        for f in fixed:
            statuses[f.rule_id] = "fixed"
            details[f.rule_id] = None
            after[f.rule_id] = passcode_state(f.field, _field_value(reread, f.field))
        for f in still:
            if f.fixable and f.rule_id == policy.PASSCODE and refused_passcode is not None:
                statuses[f.rule_id] = "failed"
                failures[f.rule_id] = FixFailure.REFUSED
                details[f.rule_id] = (
                    f"could not fix: Zoom refused the new passcode ({refused_passcode}); "
                    "the other fixes were sent without it"
                )
                after[f.rule_id] = passcode_state(f.field, _field_value(reread, f.field))
            elif f.fixable:
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
        return dataclasses.replace(outcome, intent_id=intent_id)

    def _send(
        self, kind: str, meeting_id: str, patch: Mapping[str, Any], occurrence_id: str | None
    ) -> str | None:
        """PATCH the meeting (or webinar). If Zoom refuses a patch that sets a passcode (the
        host's passcode requirement), the other fixes are sent again without it; returns Zoom's
        refusal of the passcode then, else None. Raises what the PATCH without the passcode
        raises."""

        def update(body: Mapping[str, Any]) -> None:
            if kind == policy.WEBINAR:
                self.client.update_webinar(meeting_id, body)
            else:
                self.client.update_meeting(meeting_id, body, occurrence_id)

        try:
            update(patch)
        except (ZoomRateLimited, ZoomNotFound):
            raise
        except ZoomAPIError as exc:
            if "password" not in patch or exc.status != 400:
                raise
            others = {key: value for key, value in patch.items() if key != "password"}
            if others:
                update(others)
            return str(exc)
        return None

    def _passcodes_for(self, host_id: Any) -> Callable[[], str]:
        """A passcode generator that meets the host's passcode requirement, from the host's
        settings (Zoom returns the value in force: the account's, the group's or the user's
        own); the default passcode when they cannot be read (Zoom's refusal is handled in
        ``_send``)."""
        if not isinstance(host_id, str) or not host_id:
            return generate_passcode
        security = self._security_of(host_id) or {}
        requirement = PasscodeRequirement.from_settings(
            security.get("meeting_password_requirement")
        )
        return passcode_maker(requirement)

    def _host_settings_for(
        self, meeting: Mapping[str, Any], profile: policy.Profile
    ) -> policy.HostSettings:
        """What the host's settings say, read only for a meeting whose waiting room follows
        them (a compliant meeting that does not costs no request)."""
        host_id = meeting.get("host_id")
        if (
            not profile.enabled(policy.WAITING_ROOM)
            or not policy.waiting_room_follows_host(meeting)
            or not isinstance(host_id, str)
            or not host_id
        ):
            return policy.UNKNOWN_HOST
        security = self._security_of(host_id) or {}
        waiting_room = security.get("waiting_room_settings")
        places = (
            waiting_room.get("participants_to_place_in_waiting_room")
            if isinstance(waiting_room, Mapping)
            else None
        )
        if not isinstance(places, int) or isinstance(places, bool):
            return policy.UNKNOWN_HOST  # unread or unreadable: the rule's stricter reading
        return policy.HostSettings(waiting_room_places=places)

    def _security_of(self, host_id: str) -> Mapping[str, Any] | None:
        """The host's ``meeting_security`` settings, read once per host for every need (the
        passcode requirement, the waiting room); None when Zoom would not give them."""
        with self._host_lock:
            host_lock = self._per_host_locks.setdefault(host_id, threading.Lock())
        with host_lock:  # two meetings of one host at once read the host's settings once
            if host_id in self._host_security:
                return self._host_security[host_id]
            security: Mapping[str, Any] | None
            try:
                found = self.client.get_user_settings(host_id, option="meeting_security")
            except ZoomAPIError:
                security = None
            else:
                section = found.get("meeting_security")
                security = section if isinstance(section, Mapping) else None
            self._host_security[host_id] = security
            return security

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
        with self.store.core_transaction() as session:
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
            # The statuses before this observation only matter for one that may stay quiet:
            # a meeting whose findings were all fixed or failed needs no read.
            open_statuses = (
                self.store.findings.open_statuses(self.account.id, meeting_id, session=session)
                if QUIET_WHEN_UNCHANGED.intersection(outcome.statuses.values())
                else {}
            )
            for f in evaluation.findings:
                status = outcome.statuses[f.rule_id]
                previous = open_statuses.get(f.rule_id)
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
                    action=f"{evaluation.kind}.update",
                    target=f"{evaluation.kind}:{meeting_id}",
                    before=outcome.before_values,
                    after=outcome.after_values,
                    confirmed=outcome.confirmed,
                    now=now,
                    session=session,
                )

"""Settle the audit intents a killed process left: re-read Zoom, then audit and alert once.

Before zoomguard PATCHes a meeting it writes an intent (``zoomguard.store.audit``: the values
before and the values it is about to set) in a transaction of its own; the outcome completes it
together with the findings and alerts. A process killed in between leaves the intent open. Here
the meeting is read again: if Zoom holds the values zoomguard meant to set, the change was made,
and the intent is completed (confirmed) with one "Meeting corrected" alert; if not (or the meeting
is gone), it is closed as not made, which lists it nowhere as a change. Completing is conditional
on the intent still being open, so a late original and a reconciliation never both alert.

Recording intents (``recording.stop``, ``recording.trash|delete``) are settled by the re-run of
the webhook event that wrote them while that event is still pending or processing
(``zoomguard.service.events.recordings``). Once it is done or dead (or purged), no re-run will
come, and they are settled here: a removal by reading the recording instance again (gone: it was
removed, completed with one alert; still there: not made); a stop, which Zoom offers no way to read
back for a live recording, is closed as "unconfirmed" with one alert asking the officer to check.

Runs in the sweep (for its account, holding the account's lease) and when a worker process
starts (every account); only intents older than ``RECONCILE_AFTER`` are touched, so a change
another live process is making right now is left to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from zoomguard.config import Settings
from zoomguard.errors import ZoomGuardError
from zoomguard.masking import passcode_state
from zoomguard.notify import categories
from zoomguard.rules import guidance_quotes as quotes
from zoomguard.service.alerts import delivery
from zoomguard.service.enforce import MEETING_UPDATE, WEBINAR_UPDATE, split_occurrence
from zoomguard.service.events.reactions import reaction_details
from zoomguard.service.events.recordings import INSTANCE_KEY, REMOVAL_ACTIONS, STOP_ACTION
from zoomguard.store import AccountRecord, AuditRecord, Store, inbox
from zoomguard.zoom.client import ZoomClient

log = logging.getLogger(__name__)

# Longer than one meeting's fix can take in a live process (a PATCH and a re-read, each with
# Zoom's retries and back-off, about two minutes at worst).
RECONCILE_AFTER = timedelta(minutes=5)

RECONCILED_NOTE = "confirmed by re-reading Zoom after zoomguard stopped before recording it"
NOT_MADE_NOTE = "not in Zoom when re-read after zoomguard stopped: the change was not made"
GONE_NOTE = "the meeting was deleted before zoomguard could confirm the change"
REMOVED_NOTE = "confirmed by re-reading Zoom (the recording is gone) after zoomguard stopped"
STILL_THERE_NOTE = "the recording was still in Zoom when re-read: it was not removed"
STOP_UNCONFIRMED_NOTE = (
    "unconfirmed: zoomguard asked Zoom to stop the recording and stopped before hearing the "
    "answer; Zoom offers no way to read back whether a live recording runs"
)
# An event in these states will be run again, and its re-run settles its own intents.
_EVENT_WILL_RUN = frozenset({inbox.PENDING, inbox.PROCESSING})


@dataclass(frozen=True)
class ReconcileResult:
    completed: int = 0
    not_made: int = 0
    left: int = 0  # could not be read now (Zoom failing); the next run tries again


def _value(node: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def reconcile_intents(
    settings: Settings,
    store: Store,
    client_for: Callable[[AccountRecord], ZoomClient],
    *,
    now: datetime,
    account: AccountRecord | None = None,
    older_than: timedelta = RECONCILE_AFTER,
    settled_now_actors: frozenset[str] = frozenset(),
) -> ReconcileResult:
    """Settle the open meeting-update intents written before ``now - older_than``, and those of
    ``settled_now_actors`` whatever their age (a sweep holding the account's lease knows no
    other sweep of it is alive, so the intents of sweeps are all left by dead ones)."""
    completed = not_made = left = 0
    intents = store.audit.unfinished(
        before=now, account_pk=account.id if account is not None else None
    )
    for intent in intents:
        if intent.account_id is None:
            continue
        recording = intent.action == STOP_ACTION or intent.action in REMOVAL_ACTIONS
        if recording:
            if not _event_settled(store, intent):
                continue  # the event's own re-run settles it
        elif intent.action not in (MEETING_UPDATE, WEBINAR_UPDATE):
            continue
        elif intent.actor not in settled_now_actors and intent.at > now - older_than:
            continue  # possibly in the hands of a live process
        owner = account if account is not None else store.accounts.get(intent.account_id)
        if owner is None or owner.status != "active":
            store.audit.abandon(intent.id, detail="the account is no longer enforced")
            not_made += 1
            continue
        try:
            if recording:
                outcome = _settle_recording(settings, store, client_for, owner, intent, now)
            else:
                client = client_for(owner)
                outcome = _settle_meeting_update(settings, store, client, owner, intent, now)
        except ZoomGuardError as exc:
            log.warning("audit intent %d left open: Zoom could not be read (%s)", intent.id, exc)
            left += 1
            continue
        if outcome:
            completed += 1
        else:
            not_made += 1
    if completed or not_made:
        log.info("reconciled audit intents: %d made, %d not made", completed, not_made)
    return ReconcileResult(completed=completed, not_made=not_made, left=left)


def _settle_meeting_update(
    settings: Settings,
    store: Store,
    client: ZoomClient,
    account: AccountRecord,
    intent: AuditRecord,
    now: datetime,
) -> bool:
    """True when Zoom holds what zoomguard meant to set (completed and alerted once)."""
    if intent.action == WEBINAR_UPDATE:
        meeting_id = intent.target.removeprefix("webinar:")
        meeting = client.get_webinar(meeting_id)
    else:
        # A fix of one occurrence is filed as "<meeting id> occurrence <occurrence id>".
        meeting_id, occurrence_id = split_occurrence(intent.target.removeprefix("meeting:"))
        meeting = client.get_meeting(meeting_id, occurrence_id)
    if meeting is None:
        store.audit.abandon(intent.id, detail=GONE_NOTE)
        return False
    intended: Mapping[str, Any] = intent.after if isinstance(intent.after, Mapping) else {}
    current = {path: passcode_state(path, _value(meeting, path)) for path in intended}
    if not intended or current != dict(intended):
        store.audit.abandon(intent.id, detail=NOT_MADE_NOTE)
        return False
    before: Mapping[str, Any] = intent.before if isinstance(intent.before, Mapping) else {}
    host_email = meeting.get("host_email")
    with store.transaction() as session:
        if not store.audit.complete(
            intent.id, after=current, confirmed=True, detail=RECONCILED_NOTE, session=session
        ):
            return True  # its own process settled it meanwhile, with its alert
        store.outbox.record_alert(
            account_pk=account.id,
            sweep_id=None,
            delivery=delivery(settings, categories.MEETING_FIXED),
            category=categories.MEETING_FIXED,
            details={
                "meeting_id": meeting_id,
                "topic": None,  # the topic may hold identifying text; the meeting id names it
                "host_email": host_email if isinstance(host_email, str) else None,
                "start_time": meeting.get("start_time"),
                "rule_id": None,
                "rule": "Meeting settings corrected",
                "reason": None,
                "guidance": None,
                "status": "fixed",
                "changes": [
                    {"field": path, "before": before.get(path), "after": value}
                    for path, value in current.items()
                ],
                "confirmed": True,
                "failure": None,
                "officer_action": None,
            },
            now=now,
            session=session,
        )
    return True


def _event_settled(store: Store, intent: AuditRecord) -> bool:
    """Whether no run of the event that wrote ``intent`` will come again (done, dead, purged)."""
    if intent.event_id is None:
        return False  # not written by an event's handler: not this module's to settle
    event = store.inbox.get_event(intent.event_id)
    return event is None or event.status not in _EVENT_WILL_RUN


def _settle_recording(
    settings: Settings,
    store: Store,
    client_for: Callable[[AccountRecord], ZoomClient],
    account: AccountRecord,
    intent: AuditRecord,
    now: datetime,
) -> bool:
    """True when the change is completed (with its one alert); False when closed as not made."""
    meeting_id = intent.target.removeprefix("meeting:")
    before: Mapping[str, Any] = intent.before if isinstance(intent.before, Mapping) else {}
    intended: Mapping[str, Any] = intent.after if isinstance(intent.after, Mapping) else {}
    if intent.action == STOP_ACTION:
        return _complete_recording(
            settings,
            store,
            account,
            intent,
            now,
            after={"recording": "unconfirmed"},
            confirmed=None,
            note=STOP_UNCONFIRMED_NOTE,
            category=categories.RECORDING_STARTED,
            details=_recording_alert(
                meeting_id,
                after="stop requested (unconfirmed)",
                confirmed=None,
                officer_action=(
                    "Check in the Zoom web portal whether the meeting is still being recorded "
                    "and, if so, have the host stop it; zoomguard removes the recording when "
                    "Zoom finishes processing it."
                ),
            ),
        )
    instance = before.get(INSTANCE_KEY)
    recordings = client_for(account).get_recordings(
        instance if isinstance(instance, str) and instance else meeting_id
    )
    if recordings is not None:
        store.audit.abandon(intent.id, detail=STILL_THERE_NOTE)
        return False
    done = intended.get("recording")
    return _complete_recording(
        settings,
        store,
        account,
        intent,
        now,
        after=dict(intended),
        confirmed=True,
        note=REMOVED_NOTE,
        category=categories.RECORDING_COMPLETED,
        details=_recording_alert(
            meeting_id,
            after=done if isinstance(done, str) else "removed",
            confirmed=True,
            officer_action=None,
        ),
    )


def _recording_alert(
    meeting_id: str, *, after: str, confirmed: bool | None, officer_action: str | None
) -> dict[str, Any]:
    return reaction_details(
        meeting_id=meeting_id,
        topic=None,  # the event's body, which had it, is blanked once the event is done
        host_email=None,
        start_time=None,
        rule_id="no_auto_recording",
        rule="Meetings are never recorded",
        guidance=quotes.NOT_RECORDED,
        changes=[{"field": "recording", "before": "recording", "after": after}],
        confirmed=confirmed,
        failure=None,
        officer_action=officer_action,
    )


def _complete_recording(
    settings: Settings,
    store: Store,
    account: AccountRecord,
    intent: AuditRecord,
    now: datetime,
    *,
    after: dict[str, Any],
    confirmed: bool | None,
    note: str,
    category: str,
    details: dict[str, Any],
) -> bool:
    """Complete the intent and write its alert in one transaction, only if it is still open."""
    with store.transaction() as session:
        if not store.audit.complete(
            intent.id, after=after, confirmed=confirmed, detail=note, session=session
        ):
            return True  # settled meanwhile, with its alert
        store.outbox.record_alert(
            account_pk=account.id,
            sweep_id=None,
            delivery=delivery(settings, category),
            category=category,
            details=details,
            now=now,
            session=session,
        )
    return True

"""Acting on Zoom's webhook events, one inbox item at a time (the `worker` process).

The receiver has already verified and stored the event; this module decides what it means:

- meeting.created / meeting.updated: read the meeting, enforce the policy on it. zoomguard's own
  PATCH comes back as meeting.updated: the re-read meeting is then compliant and nothing is sent;
  a fix that Zoom overrode is not sent again within LOOP_GUARD (reported instead), so the two
  can never ping-pong.
- recording.started: stop it at once, audit, alert immediately.
- recording.completed: trash or delete the recording (ZOOMGUARD_RECORDING_ACTION), audit, alert.
- meeting.participant_jbh_joined / _waiting: someone is joining before the host: fix the meeting
  and alert.
- meeting.deleted: its open findings are resolved.
- app_deauthorized: stop enforcing for that account and purge its tokens.
- account/group/user settings events: check the account baseline again.

A handler raises to have the event retried with backoff; the worker marks it dead after a bounded
number of attempts and `on_dead` tells the privacy officer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from zoomguard.config import Settings
from zoomguard.errors import ZoomAPIError, ZoomNotFound
from zoomguard.notify import categories
from zoomguard.rules import policy
from zoomguard.service.alerts import delivery
from zoomguard.service.clients import (
    WORKER_RATE_PART,
    Clock,
    client_for_account,
    load_profile,
    utcnow,
)
from zoomguard.service.enforce import MeetingEnforcer
from zoomguard.store import Store
from zoomguard.store.core import AccountRecord
from zoomguard.store.inbox import InboxItem
from zoomguard.store.outbox import record_alert
from zoomguard.zoom.client import ZoomClient

log = logging.getLogger(__name__)

LOOP_GUARD = timedelta(minutes=10)
MEETING_EVENTS = frozenset({"meeting.created", "meeting.updated"})
JBH_EVENTS = frozenset({"meeting.participant_jbh_joined", "meeting.participant_jbh_waiting"})
SETTINGS_EVENTS = frozenset(
    {
        "account.settings_updated",
        "account.lock_settings_updated",
        "group.settings_updated",
        "group.lock_settings_updated",
        "user.settings_updated",
    }
)

ClientFactory = Callable[[AccountRecord], ZoomClient]
BaselineHook = Callable[[AccountRecord, ZoomClient, str, Mapping[str, Any]], None]


class UnusableEvent(ValueError):
    """The stored body cannot be acted on (it passed the receiver's checks, but not ours)."""


def _object(body: Mapping[str, Any]) -> Mapping[str, Any]:
    payload = body.get("payload")
    obj = payload.get("object") if isinstance(payload, Mapping) else None
    if not isinstance(obj, Mapping):
        raise UnusableEvent("payload.object is missing")
    return obj


class EventHandler:
    """Callable for zoomguard.runtime.worker: handles one InboxItem or raises to have it retried."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        client_factory: ClientFactory | None = None,
        profile: policy.Profile | None = None,
        baseline_hook: BaselineHook | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.profile = profile if profile is not None else load_profile(settings)
        self.clock = clock
        self._client_factory = client_factory or (
            lambda account: client_for_account(settings, store, account, rate_part=WORKER_RATE_PART)
        )
        self._baseline_hook = baseline_hook
        self._clients: dict[int, ZoomClient] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _client(self, account: AccountRecord) -> ZoomClient:
        # One client per account keeps its token and connection pool between events.
        with self._lock:
            client = self._clients.get(account.id)
            if client is None:
                client = self._clients[account.id] = self._client_factory(account)
            return client

    # Dispatch ---------------------------------------------------------------------------------

    def __call__(self, item: InboxItem) -> None:
        try:
            body = json.loads(item.body)
        except ValueError:
            raise UnusableEvent("stored body is not JSON") from None
        if not isinstance(body, Mapping):
            raise UnusableEvent("stored body is not a JSON object")
        if item.event == "app_deauthorized":
            self._deauthorized(item, body)
            return
        account = self._account(item, body)
        if account is None:
            log.info("event %s for an account zoomguard does not enforce: ignored", item.event)
            return
        if item.event in MEETING_EVENTS or item.event in JBH_EVENTS:
            self._meeting_changed(account, item.event, body)
        elif item.event == "recording.started":
            self._recording_started(account, body)
        elif item.event == "recording.completed":
            self._recording_completed(account, body)
        elif item.event == "meeting.deleted":
            self._meeting_deleted(account, body)
        elif item.event in SETTINGS_EVENTS:
            if self._baseline_hook is not None:
                self._baseline_hook(account, self._client(account), item.event, body)
        else:
            log.info("event %s has no handler: nothing to do", item.event)

    def _account(self, item: InboxItem, body: Mapping[str, Any]) -> AccountRecord | None:
        payload = body.get("payload")
        zoom_account_id = item.zoom_account_id or (
            payload.get("account_id") if isinstance(payload, Mapping) else None
        )
        if not zoom_account_id:
            return None
        account = self.store.get_account_by_zoom_id(str(zoom_account_id))
        return account if account is not None and account.status == "active" else None

    # Meetings ---------------------------------------------------------------------------------

    def _meeting_changed(self, account: AccountRecord, event: str, body: Mapping[str, Any]) -> None:
        obj = _object(body)
        meeting_id = obj.get("id")
        if meeting_id is None:
            raise UnusableEvent("payload.object.id is missing")
        client = self._client(account)
        meeting = client.get_meeting(meeting_id)
        if meeting is None:
            return  # deleted since: nothing to enforce
        now = self.clock()
        hold_back = None
        last = self.store.last_change(
            account.id, f"meeting:{meeting_id}", "meeting.update", since=now - LOOP_GUARD
        )
        if last is not None and last.confirmed is False:
            hold_back = "not sent again: Zoom overrode zoomguard's last fix of this meeting"
        enforcer = MeetingEnforcer(
            self.settings,
            self.store,
            client,
            account,
            profile=self.profile,
            actor="webhook",
            clock=self.clock,
        )
        host = meeting.get("host_email")
        host_email = host if isinstance(host, str) else None
        outcome = enforcer.enforce(
            meeting, host_email=host_email, today=now.date(), hold_back=hold_back
        )
        if outcome is not None:
            enforcer.record(None, outcome, host_email)
        if event in JBH_EVENTS:
            self._alert_jbh(account, event, obj, host_email)

    def _alert_jbh(
        self, account: AccountRecord, event: str, obj: Mapping[str, Any], host_email: str | None
    ) -> None:
        rule = policy.RULES.get("join_before_host_off")
        with self.store.transaction() as session:
            record_alert(
                session,
                account_pk=account.id,
                sweep_id=None,
                delivery=delivery(self.settings, categories.MEETING_FIX_FAILED),
                category=categories.MEETING_FIX_FAILED,
                details={
                    "meeting_id": str(obj.get("id", "")),
                    "topic": policy.redact(str(obj.get("topic", ""))) or None,
                    "host_email": host_email,
                    "start_time": obj.get("start_time"),
                    "rule_id": "join_before_host_off",
                    "rule": rule.title if rule else "No one joins before the host",
                    "guidance": rule.guidance if rule else None,
                    "changes": [],
                    "confirmed": None,
                    "failure": "a participant joined (or waited to join) before the host",
                    "officer_action": (
                        "zoomguard has turned join-before-host off for this meeting; confirm with "
                        "the host who joined early and whether anything was discussed."
                    ),
                },
                now=self.clock(),
            )

    def _meeting_deleted(self, account: AccountRecord, body: Mapping[str, Any]) -> None:
        meeting_id = _object(body).get("id")
        if meeting_id is None:
            raise UnusableEvent("payload.object.id is missing")
        with self.store.transaction() as session:
            self.store.resolve_meeting_findings(
                session, account_pk=account.id, meeting_id=str(meeting_id), now=self.clock()
            )

    # Recordings -------------------------------------------------------------------------------

    def _recording_details(
        self, obj: Mapping[str, Any], *, failure: str | None, action: str, confirmed: bool | None
    ) -> dict[str, Any]:
        rule = policy.RULES.get("no_auto_recording")
        return {
            "meeting_id": str(obj.get("id", "")),
            "topic": policy.redact(str(obj.get("topic", ""))) or None,
            "host_email": obj.get("host_email"),
            "start_time": obj.get("start_time"),
            "rule_id": "no_auto_recording",
            "rule": "Meetings are never recorded",
            "guidance": rule.guidance if rule else None,
            "changes": [{"field": "recording", "before": "recording", "after": action}],
            "confirmed": confirmed,
            "failure": failure,
            "officer_action": None
            if failure is None
            else "Check the meeting in the Zoom web portal and remove the recording by hand.",
        }

    def _recording_started(self, account: AccountRecord, body: Mapping[str, Any]) -> None:
        obj = _object(body)
        meeting_id = obj.get("id")
        if meeting_id is None:
            raise UnusableEvent("payload.object.id is missing")
        failure: str | None = None
        try:
            self._client(account).stop_recording(meeting_id)
        except ZoomNotFound:
            failure = "the meeting had already ended, so there was no recording to stop"
        except ZoomAPIError as exc:
            if exc.status >= 500 or exc.status == 429:
                raise  # worth retrying
            failure = f"Zoom refused to stop the recording ({exc})"
        self._audit_and_alert(
            account,
            action="recording.stop",
            target=f"meeting:{meeting_id}",
            before={"recording": "started"},
            after={"recording": "stopped" if failure is None else "unknown"},
            confirmed=failure is None,
            category=categories.RECORDING_STARTED,
            details=self._recording_details(
                obj, failure=failure, action="stopped", confirmed=failure is None
            ),
        )

    def _recording_completed(self, account: AccountRecord, body: Mapping[str, Any]) -> None:
        obj = _object(body)
        uuid = obj.get("uuid")
        if not isinstance(uuid, str) or not uuid:
            raise UnusableEvent("payload.object.uuid is missing")
        action = self.settings.recording_action
        failure: str | None = None
        removed = False
        if action in ("trash", "delete"):
            try:
                removed = self._client(account).delete_recordings(uuid, action=action)
            except ZoomAPIError as exc:
                if exc.status >= 500 or exc.status == 429:
                    raise
                failure = f"Zoom refused to remove the recording ({exc})"
            if not removed and failure is None:
                failure = "Zoom had no recording to remove (already removed?)"
        done = {"trash": "moved to trash", "delete": "deleted", "report": "reported only"}[action]
        self._audit_and_alert(
            account,
            action=f"recording.{action}",
            target=f"meeting:{obj.get('id', '')}",
            before={"recording": "completed", "files": obj.get("recording_count")},
            after={"recording": done if failure is None else "unchanged"},
            confirmed=removed if action != "report" else None,
            category=categories.RECORDING_COMPLETED,
            details=self._recording_details(
                obj, failure=failure, action=done, confirmed=removed if action != "report" else None
            ),
        )

    def _audit_and_alert(
        self,
        account: AccountRecord,
        *,
        action: str,
        target: str,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        confirmed: bool | None,
        category: str,
        details: dict[str, Any],
    ) -> None:
        now = self.clock()
        with self.store.transaction() as session:
            self.store.append_audit(
                session,
                account_pk=account.id,
                actor="webhook",
                action=action,
                target=target,
                before=dict(before),
                after=dict(after),
                confirmed=confirmed,
                now=now,
            )
            record_alert(
                session,
                account_pk=account.id,
                sweep_id=None,
                delivery=delivery(self.settings, category),
                category=category,
                details=details,
                now=now,
            )

    # Accounts ---------------------------------------------------------------------------------

    def _deauthorized(self, item: InboxItem, body: Mapping[str, Any]) -> None:
        payload = body.get("payload")
        zoom_account_id = item.zoom_account_id or (
            payload.get("account_id") if isinstance(payload, Mapping) else None
        )
        if not zoom_account_id:
            raise UnusableEvent("payload.account_id is missing")
        now = self.clock()
        with self.store.transaction() as session:
            account = self.store.deauthorize(str(zoom_account_id), now, session=session)
            if account is not None:
                self.store.append_audit(
                    session,
                    account_pk=account.id,
                    actor="webhook",
                    action="account.deauthorized",
                    target=f"account:{zoom_account_id}",
                    before={"status": "active"},
                    after={"status": "deauthorized", "tokens": "purged"},
                    confirmed=True,
                    now=now,
                )
        with self._lock:
            client = self._clients.pop(account.id, None) if account is not None else None
        if client is not None:
            client.close()


def on_dead(
    settings: Settings, store: Store, clock: Clock = utcnow
) -> Callable[[InboxItem, str], None]:
    """The worker's callback for an event given up on: the privacy officer is told at once."""

    def tell_officer(item: InboxItem, error: str) -> None:
        zoom_id = item.zoom_account_id
        account = store.get_account_by_zoom_id(zoom_id) if zoom_id else None
        with store.transaction() as session:
            record_alert(
                session,
                account_pk=account.id if account is not None else None,
                sweep_id=None,
                delivery=categories.IMMEDIATE,
                category=categories.EVENT_DEAD,
                details={
                    "meeting_id": None,
                    "topic": None,
                    "host_email": None,
                    "start_time": None,
                    "rule_id": None,
                    "rule": f"Zoom event {item.event} (inbox #{item.id}) could not be processed",
                    "guidance": None,
                    "changes": [],
                    "confirmed": None,
                    "failure": error[:500],
                    "officer_action": (
                        "zoomguard gave up after repeated attempts; `zoomguard report` lists the "
                        "event. The next sweep re-checks every scheduled meeting, but a recording "
                        "may need to be removed by hand."
                    ),
                },
                now=clock(),
            )

    return tell_officer

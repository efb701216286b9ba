"""The account baseline use case: read, compare, fix, lock, verify by re-reading, record, alert;
and the clean-out of existing cloud recordings.

A full run (``BaselineRunner.run``) first reads everything (the account's settings and locks,
every group's settings and locks, every active user's settings), so that every group and user
that deviates is reported as it was found. Then, in enforce mode:

1. the account: one PATCH of its settings and one of its lock_settings (each split in two where
   Zoom wants the meeting_security section sent with ``?option=meeting_security``), then a
   re-read; a fix counts only when the re-read shows the value and the lock;
2. each deviating group, then each deviating user, is read again: the account lock usually
   brought it in line already (that counts as fixed, without a PATCH); what still deviates is
   PATCHed (and a group locked at group level), then re-read;
3. each target's findings, alerts and audit entries are written in one transaction, like a
   meeting in the sweep; findings of targets now compliant are resolved.

Report mode and ``dry_run`` read, compare and record, and change nothing in Zoom. A second run
on a compliant account sends no PATCH and writes no alert (an alert is written when a finding is
new or its status changed).

``recheck_baseline`` is the entry point for the settings webhooks (account.settings_updated,
account.lock_settings_updated, group.settings_updated, group.lock_settings_updated,
user.settings_updated): it checks and fixes one target. ``scope_for_event`` maps an event to
its scope.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, timedelta
from typing import Any, TypeVar

from zoomguard.config import Settings
from zoomguard.errors import (
    BaselineBusy,
    Interrupted,
    ZoomAPIError,
    ZoomAuthError,
)
from zoomguard.notify import (
    MEETING_FIX_FAILED,
    MEETING_FIXED,
    MEETING_REPORTED,
    RECORDING_COMPLETED,
    SETTINGS_BASELINE,
    SETTINGS_BASELINE_FAILED,
)
from zoomguard.rules import baseline as bl
from zoomguard.rules import policy
from zoomguard.rules.policy_file import BASELINE_CLOUD_RECORDING, BASELINE_PMI_PASSCODE
from zoomguard.service.alerts import delivery
from zoomguard.service.clients import Clock, holder_id, utcnow
from zoomguard.store import AccountRecord, Store
from zoomguard.zoom.client import ZoomClient

log = logging.getLogger(__name__)

BASELINE_LEASE_SECONDS = 15 * 60
DEFAULT_ACTOR = "baseline"

# "account", ("group", group_id) or ("user", user_id)
Scope = str | tuple[str, str]

SETTINGS_EVENTS = frozenset(
    {
        "account.settings_updated",
        "account.lock_settings_updated",
        "group.settings_updated",
        "group.lock_settings_updated",
        "user.settings_updated",
    }
)

_T = TypeVar("_T")
_R = TypeVar("_R")

_OFFICER_ACTIONS = {
    bl.FAILED: (
        "Check the setting in the Zoom web portal (Account Management > Account Settings, and "
        "the group's or user's settings), set it to the baseline value and lock it by hand."
    ),
    bl.REPORTED: (
        'Decide whether to let zoomguard enforce the baseline (mode = "enforce"), or change '
        "and lock the setting in the Zoom web portal."
    ),
}


def scope_for_event(event: str, payload: Mapping[str, Any]) -> Scope | None:
    """The scope a settings webhook asks to re-check, or None if it is not one of them.

    ``payload`` is the envelope's ``payload``; its ``object.id`` names the group or user.
    """
    if event not in SETTINGS_EVENTS:
        return None
    if event.startswith("account."):
        return bl.ACCOUNT
    obj = payload.get("object")
    ident = obj.get("id") if isinstance(obj, Mapping) else None
    if not isinstance(ident, str) or not ident:
        return None
    return (bl.GROUP if event.startswith("group.") else bl.USER, ident)


@dataclass
class _Target:
    """One account, group or user as read, with what zoomguard did to it."""

    level: str
    ident: str | None
    name: str | None  # the group's name or the user's email
    settings: dict[str, Any]
    locks: dict[str, Any] | None
    evaluation: bl.TargetEvaluation
    inherited: dict[str, bool] | None = None
    # Values of the levels it inherits from (account, groups): zoomguard.rules.baseline.evaluate.
    above: tuple[dict[str, Any], ...] = ()
    pmi: str | None = None
    group_ids: tuple[str, ...] = ()
    # The target as last read after zoomguard acted (None: nothing was re-read).
    after: bl.TargetEvaluation | None = None
    results: tuple[bl.SettingResult, ...] = ()
    audits: list[dict[str, Any]] = field(default_factory=list)
    patches: int = 0

    @property
    def target(self) -> str:
        return self.evaluation.target

    @property
    def latest(self) -> bl.TargetEvaluation:
        return self.after if self.after is not None else self.evaluation


class BaselineRunner:
    """Applies the baseline to one account. Create one per run."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: ZoomClient,
        account: AccountRecord,
        *,
        profile: policy.Profile,
        dry_run: bool = False,
        recordings: bool = True,
        lookback_days: int | None = None,
        actor: str = DEFAULT_ACTOR,
        stop: threading.Event | None = None,
        clock: Clock = utcnow,
        make_passcode: Callable[[], str] = policy.generate_passcode,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.account = account
        self.profile = profile
        self.baseline = profile.baseline
        self.dry_run = dry_run
        self.recordings = recordings
        self.lookback_days = (
            lookback_days
            if lookback_days is not None
            else profile.baseline.recordings_lookback_days
        )
        if self.lookback_days < 1:
            raise ValueError("lookback_days must be at least 1")
        self.actor = actor
        self.stop = stop or threading.Event()
        self.clock = clock
        self.make_passcode = make_passcode
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()
        self._open: dict[tuple[str, str], str] = {}  # (target, rule id) -> status
        self._open_targets: set[str] = set()

    @property
    def enforce(self) -> bool:
        return self.profile.baseline_mode == "enforce" and not self.dry_run

    @property
    def cleans_recordings(self) -> bool:
        """Existing recordings are looked for only while the policy keeps cloud recording off:
        zoomguard never removes what the policy allows."""
        return self.recordings and self.baseline.enabled(BASELINE_CLOUD_RECORDING)

    # Entry points -----------------------------------------------------------------------------

    def run(self) -> bl.BaselineResult:
        """Check the account, every group and every active user; fix; clean out recordings."""
        with self._lease():
            self._load_open_findings()
            account = self._read_target(bl.ACCOUNT, None, None)
            account_locks = bl.lock_state(account.evaluation)
            account_values = bl.values_of(account.evaluation)

            def read_group(group: Mapping[str, Any]) -> _Target:
                return self._read_group(group, account_locks, account_values)

            groups = self._map(read_group, [g for g in self.client.list_groups() if g.get("id")])
            users = [u for u in self.client.list_users(status="active") if u.get("id")]
            self._check_stop()
            by_group = {t.ident: t.evaluation for t in groups if t.ident}

            def read_user(user: Mapping[str, Any]) -> _Target:
                return self._read_user(user, account_locks, account_values, by_group)

            user_targets = self._map(read_user, users)

            # Fix from the top down: locking the account brings most groups and users in line.
            # Each target is recorded as soon as it is settled, so a run stopped half-way keeps
            # the audit trail of every change it made.
            self._settle_account(account)
            self._record(account)
            locks_after = bl.lock_state(account.latest)
            values_after = bl.values_of(account.latest)
            for target in groups:
                target.inherited, target.above = locks_after, (values_after,)
            self._map(self._settle_and_record, groups)
            groups_after = {t.ident: t.latest for t in groups if t.ident}
            for target in user_targets:
                mine = [groups_after[g] for g in target.group_ids if g in groups_after]
                target.inherited = bl.combine_locks(locks_after, *map(bl.lock_state, mine))
                target.above = (values_after, *map(bl.values_of, mine))
            self._map(self._settle_and_record, user_targets)

            everyone = [account, *groups, *user_targets]
            if not self._errors:
                self._resolve_vanished({t.target for t in everyone})
            recordings: tuple[bl.RecordingResult, ...] = ()
            if self.cleans_recordings:
                recordings = self._clean_recordings(users)
            return self._result(bl.ACCOUNT, everyone, recordings, full=True)

    def recheck(self, scope: Scope) -> bl.BaselineResult:
        """Check and fix one target: the account itself, one group or one user."""
        with self._lease():
            self._load_open_findings()
            if scope == bl.ACCOUNT:
                target = self._read_target(bl.ACCOUNT, None, None)
                self._settle_account(target)
            else:
                level, ident = _parse_scope(scope)
                account = self._read_target(bl.ACCOUNT, None, None).evaluation
                locks, values = bl.lock_state(account), bl.values_of(account)
                user = self.client.get_user(ident) if level == bl.USER else None
                if user is not None:
                    # The user's groups decide what the user inherits: read them first, so a
                    # value that comes from the group is fixed there, not on the user.
                    groups = [g for g in user.get("group_ids") or [] if isinstance(g, str)]
                    groups_read = {
                        g: self._read_group({"id": g}, locks, values).evaluation for g in groups
                    }
                    target = self._read_user(user, locks, values, groups_read)
                else:
                    target = self._read_target(level, ident, None, inherited=locks, above=(values,))
                self._settle_below(target, reread_first=False)
            self._record(target)
            return self._result(target.target, [target], (), full=False)

    # Reading ----------------------------------------------------------------------------------

    def _read_group(
        self,
        group: Mapping[str, Any],
        account_locks: Mapping[str, bool],
        account_values: Mapping[str, Any],
    ) -> _Target:
        ident = str(group.get("id") or "")
        name = group.get("name") if isinstance(group.get("name"), str) else None
        return self._read_target(
            bl.GROUP, ident, name, inherited=account_locks, above=(dict(account_values),)
        )

    def _read_user(
        self,
        user: Mapping[str, Any],
        account_locks: Mapping[str, bool],
        account_values: Mapping[str, Any],
        groups_read: Mapping[str, bl.TargetEvaluation],
    ) -> _Target:
        ident = str(user.get("id") or "")
        email = user.get("email") if isinstance(user.get("email"), str) else None
        groups = [g for g in user.get("group_ids") or [] if isinstance(g, str)]
        mine = [groups_read[g] for g in groups if g in groups_read]
        target = self._read_target(
            bl.USER,
            ident,
            email,
            inherited=bl.combine_locks(account_locks, *map(bl.lock_state, mine)),
            above=(dict(account_values), *map(bl.values_of, mine)),
        )
        pmi = user.get("pmi")
        target.pmi = str(pmi) if isinstance(pmi, int | str) and str(pmi) else None
        target.group_ids = tuple(groups)
        if target.evaluation.compliant:
            # Nothing to fix: keep memory flat however many users the account has.
            target.settings = {}
        return target

    def _read_target(
        self,
        level: str,
        ident: str | None,
        name: str | None,
        *,
        inherited: Mapping[str, bool] | None = None,
        above: Sequence[Mapping[str, Any]] = (),
    ) -> _Target:
        self._check_stop()
        settings, locks = self._read(level, ident)
        # Read-only evaluation: patches (and a PMI passcode) are made just before sending.
        evaluation = self._evaluate(level, ident, settings, locks, inherited, above, enforce=False)
        return _Target(
            level=level,
            ident=ident,
            name=name,
            settings=settings,
            locks=locks,
            evaluation=evaluation,
            inherited=dict(inherited) if inherited is not None else None,
            above=tuple(dict(a) for a in above),
        )

    def _evaluate(
        self,
        level: str,
        ident: str | None,
        settings: Mapping[str, Any],
        locks: Mapping[str, Any] | None,
        inherited: Mapping[str, bool] | None,
        above: Sequence[Mapping[str, Any]] = (),
        *,
        enforce: bool,
    ) -> bl.TargetEvaluation:
        return bl.evaluate(
            level,
            bl.target_of(level, ident),
            settings,
            locks,
            self.baseline,
            enforce=enforce,
            inherited_locks=inherited,
            above=above,
            make_passcode=self.make_passcode,
        )

    def _read(self, level: str, ident: str | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The target's settings (and lock_settings), each merged from the plain GET and the
        ``?option=meeting_security`` GET when a baseline item lives in that section."""
        security = bl.MEETING_SECURITY
        with_security = bl.needs_meeting_security(level, self.baseline)
        locks_security = bl.needs_meeting_security(level, self.baseline, locks=True)
        c = self.client
        if level == bl.ACCOUNT:
            settings = bl.merge_reads(
                c.get_account_settings(),
                c.get_account_settings(option=security) if with_security else None,
            )
            locks = bl.merge_reads(
                c.get_account_lock_settings(),
                c.get_account_lock_settings(option=security) if locks_security else None,
            )
            return settings, locks
        assert ident is not None
        if level == bl.GROUP:
            settings = bl.merge_reads(
                c.get_group_settings(ident),
                c.get_group_settings(ident, option=security) if with_security else None,
            )
            locks = bl.merge_reads(
                c.get_group_lock_settings(ident),
                c.get_group_lock_settings(ident, option=security) if locks_security else None,
            )
            return settings, locks
        settings = bl.merge_reads(
            c.get_user_settings(ident),
            c.get_user_settings(ident, option=security) if with_security else None,
        )
        return settings, None

    # Fixing -----------------------------------------------------------------------------------

    def _settle_account(self, target: _Target) -> None:
        before = target.evaluation
        if before.compliant or not self.enforce:
            target.results = bl.settle(
                before, reread=None, patched=False, enforce=self.enforce, dry_run=self.dry_run
            )
            return
        current = self._evaluate(
            bl.ACCOUNT, None, target.settings, target.locks, None, enforce=True
        )
        self._patch_and_verify(target, current)

    def _settle_and_record(self, target: _Target) -> None:
        self._settle_below(target)
        self._record(target)

    def _settle_below(self, target: _Target, *, reread_first: bool = True) -> None:
        """A group or user: often already in line once the account is locked; else PATCH it."""
        before = target.evaluation
        if before.compliant or not self.enforce:
            target.results = bl.settle(
                before,
                reread=None,
                patched=False,
                enforce=self.enforce,
                target_name=target.name,
                dry_run=self.dry_run,
            )
            return
        settings, locks = (
            self._read(target.level, target.ident)
            if reread_first
            else (target.settings, target.locks)
        )
        current = self._evaluate(
            target.level,
            target.ident,
            settings,
            locks,
            target.inherited,
            target.above,
            enforce=True,
        )
        if current.compliant:
            target.after = current
            target.results = bl.settle(
                before, reread=current, patched=False, enforce=True, target_name=target.name
            )
            return
        target.settings, target.locks = settings, locks
        self._patch_and_verify(target, current)

    def _patch_and_verify(self, target: _Target, current: bl.TargetEvaluation) -> None:
        """Send the PATCHes ``current`` holds, re-read, and settle ``target`` against it."""
        error: str | None = None
        sent: list[tuple[str, dict[str, Any]]] = []  # (audit action, body) Zoom accepted
        try:
            for action, patch, locks in (
                ("settings.update", current.settings_patch, False),
                ("lock_settings.update", current.lock_patch, True),
            ):
                for option, body in bl.split_by_option(patch):
                    self._send(target, body, option, locks=locks)
                    sent.append((action, body))
        except ZoomAuthError:
            raise
        except ZoomAPIError as exc:
            error = f"could not fix: Zoom refused the change ({exc})"
        reread: bl.TargetEvaluation | None = None
        new_settings: dict[str, Any] = {}
        new_locks: dict[str, Any] | None = None
        if sent:
            new_settings, new_locks = self._read(target.level, target.ident)
            reread = self._evaluate(
                target.level,
                target.ident,
                new_settings,
                new_locks,
                target.inherited,
                target.above,
                enforce=False,
            )
        target.results = bl.settle(
            target.evaluation,
            reread=reread,
            patched=bool(sent),
            enforce=True,
            target_name=target.name,
            error=error if not sent else None,
        )
        if sent and error is not None:
            # Zoom took some of the PATCHes and refused a later one: say why the rest failed.
            target.results = tuple(
                r if r.status != bl.FAILED else _with_detail(r, error) for r in target.results
            )
        confirmed = all(r.status in (bl.OK, bl.FIXED) for r in target.results)
        for action, patch in sent:
            paths = list(bl.flatten(patch))
            source_before = target.locks if action.startswith("lock") else target.settings
            source_after = new_locks if action.startswith("lock") else new_settings
            target.audits.append(
                {
                    "action": action,
                    "before": {p: bl.masked_value(p, bl.get_path(source_before, p)) for p in paths},
                    "after": {p: bl.masked_value(p, bl.get_path(source_after, p)) for p in paths},
                    "confirmed": confirmed,
                }
            )
        target.patches += len(sent)
        target.after = reread

    def _send(
        self, target: _Target, body: Mapping[str, Any], option: str | None, *, locks: bool
    ) -> None:
        c = self.client
        if target.level == bl.ACCOUNT:
            if locks:
                # Zoom documents no ?option for this PATCH: the body's shape says it all.
                c.update_account_lock_settings(body)
            else:
                c.update_account_settings(body, option=option)
            return
        assert target.ident is not None
        if target.level == bl.GROUP:
            if locks:
                c.update_group_lock_settings(target.ident, body, option=option)
            else:
                c.update_group_settings(target.ident, body, option=option)
            return
        c.update_user_settings(target.ident, body, option=option)

    # Recording --------------------------------------------------------------------------------

    def _load_open_findings(self) -> None:
        self._open = {
            (f.meeting_id, f.rule_id): f.status
            for f in self.store.findings.open(self.account.id)
            if bl.is_baseline_rule(f.rule_id)
        }
        self._open_targets = {target for target, _ in self._open}

    def _record(self, target: _Target) -> None:
        """Findings, alerts and audit entries of one target, in one transaction."""
        deviations = [r for r in target.results if r.status != bl.OK]
        has_open = target.target in self._open_targets
        if not deviations and not has_open and not target.audits:
            return
        now = self.clock()
        with self.store.transaction() as session:
            for result in deviations:
                self.store.findings.upsert(
                    account_pk=self.account.id,
                    sweep_id=None,
                    meeting_id=target.target,
                    host_id=target.ident if target.level == bl.USER else None,
                    host_email=target.name if target.level == bl.USER else None,
                    topic=target.name if target.level == bl.GROUP else None,
                    start_time=None,
                    rule_id=result.rule_id,
                    field=result.field,
                    expected=result.desired,
                    actual=result.actual,
                    after=result.after,
                    status=result.status,
                    detail=result.detail,
                    now=now,
                    session=session,
                )
                if self._open.get((target.target, result.rule_id)) == result.status:
                    continue  # the officer already heard about this, in this state
                category = _category(result)
                self.store.outbox.record_alert(
                    account_pk=self.account.id,
                    sweep_id=None,
                    delivery=delivery(self.settings, category),
                    category=category,
                    details=_alert_details(target, result),
                    now=now,
                    session=session,
                )
            self.store.findings.resolve_meeting(
                account_pk=self.account.id,
                meeting_id=target.target,
                now=now,
                keep_rules=[r.rule_id for r in deviations],
                session=session,
            )
            for audit in target.audits:
                self.store.audit.append(
                    account_pk=self.account.id,
                    actor=self.actor,
                    action=audit["action"],
                    target=target.target,
                    before=audit["before"],
                    after=audit["after"],
                    confirmed=audit["confirmed"],
                    detail="baseline",
                    now=now,
                    session=session,
                )

    def _resolve_vanished(self, seen: set[str]) -> None:
        """Open findings of groups or users that no longer exist (or are no longer active)."""
        gone = {
            t
            for t, rule in self._open
            if t not in seen and rule != bl.RECORDING_RULE_ID and not t.startswith("recording:")
        }
        if not gone:
            return
        now = self.clock()
        with self.store.transaction() as session:
            for target in sorted(gone):
                self.store.findings.resolve_meeting(
                    account_pk=self.account.id, meeting_id=target, now=now, session=session
                )

    # Recordings -------------------------------------------------------------------------------

    def _clean_recordings(
        self, users: Sequence[Mapping[str, Any]]
    ) -> tuple[bl.RecordingResult, ...]:
        """Every cloud recording of every active user within the look-back, per the policy."""
        today = self.clock().astimezone(UTC).date()
        start = today - timedelta(days=self.lookback_days)

        def one_user(user: Mapping[str, Any]) -> list[bl.RecordingResult]:
            user_id = str(user.get("id") or "")
            email = user.get("email") if isinstance(user.get("email"), str) else None
            found = []
            for item in self.client.list_user_recordings(user_id, start, today):
                self._check_stop()
                found.append(self._handle_recording(item, email))
            return found

        results: list[bl.RecordingResult] = []
        errors_before = len(self._errors)
        for batch in self._map(one_user, list(users)):
            results.extend(batch)
        if len(self._errors) == errors_before:  # every user's recordings were listed
            seen = {f"recording:{r.uuid}" for r in results}
            self._resolve_recordings_not_in(seen)
        return tuple(results)

    def _handle_recording(
        self, item: Mapping[str, Any], host_email: str | None
    ) -> bl.RecordingResult:
        uuid = str(item.get("uuid") or "")
        meeting_id = str(item.get("id") or "")
        files = item.get("recording_files")
        count = len(files) if isinstance(files, list) else int(item.get("recording_count") or 0)
        topic = item.get("topic")
        action_wanted = self.settings.recording_action
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
        if not self.enforce or action_wanted == "report" or not uuid:
            if self.dry_run and action_wanted != "report":
                detail = f"dry run: would be {_past(action_wanted)}"
            elif action_wanted == "report":
                detail = "ZOOMGUARD_RECORDING_ACTION is report: not removed"
            else:
                detail = "report mode: not removed"
            result = replace(found, detail=detail)
            self._record_recording(result, requested=None)
            return result
        try:
            removed = self.client.delete_recordings(uuid, action=action_wanted)
        except ZoomAuthError:
            raise
        except ZoomAPIError as exc:
            result = replace(found, action="failed", detail=f"Zoom refused to remove it ({exc})")
            self._record_recording(result, requested=None)
            return result
        # Re-read: a removal counts only when Zoom no longer has the recording.
        still_there = self.client.get_recordings(uuid) is not None
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
            result = replace(found, action=_past(action_wanted))
        self._record_recording(result, requested=action_wanted if removed else None)
        return result

    def _record_recording(self, result: bl.RecordingResult, *, requested: str | None) -> None:
        """Finding, alert and (when Zoom accepted a removal: ``requested``) audit entry."""
        target = f"recording:{result.uuid}"
        status = {"trashed": "fixed", "deleted": "fixed", "failed": "failed"}.get(
            result.action, "reported"
        )
        now = self.clock()
        with self.store.transaction() as session:
            self.store.findings.upsert(
                account_pk=self.account.id,
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
                session=session,
            )
            if self._open.get((target[:64], bl.RECORDING_RULE_ID)) != status:
                self.store.outbox.record_alert(
                    account_pk=self.account.id,
                    sweep_id=None,
                    delivery=delivery(self.settings, RECORDING_COMPLETED),
                    category=RECORDING_COMPLETED,
                    details=_recording_alert(result, status),
                    now=now,
                    session=session,
                )
            if requested is not None:
                self.store.audit.append(
                    account_pk=self.account.id,
                    actor=self.actor,
                    action=f"recording.{requested}",
                    target=f"meeting:{result.meeting_id} instance {result.uuid}",
                    before={"files": result.files, "total_size": result.total_size},
                    after={"status": result.action},
                    confirmed=result.action in ("trashed", "deleted"),
                    detail=result.detail,
                    now=now,
                    session=session,
                )

    def _resolve_recordings_not_in(self, seen: set[str]) -> None:
        gone = {t for t, rule in self._open if rule == bl.RECORDING_RULE_ID and t not in seen}
        if not gone:
            return
        now = self.clock()
        with self.store.transaction() as session:
            for target in sorted(gone):
                self.store.findings.resolve_meeting(
                    account_pk=self.account.id, meeting_id=target, now=now, session=session
                )

    # Plumbing ---------------------------------------------------------------------------------

    def _lease(self) -> _Lease:
        return _Lease(self.store, f"baseline:{self.account.id}", self.clock)

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted("baseline interrupted")

    def _map(self, fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
        """``fn`` over ``items`` on a bounded pool, results in order. One item's Zoom API error
        is noted and the item skipped; anything else (auth, network, a stop, a bug) stops the
        other items and is raised once the pool has drained."""
        listed = list(items)
        if not listed:
            return []
        fatal: list[BaseException] = []
        abort = threading.Event()

        def guarded(item: _T) -> tuple[bool, _R | None]:
            if abort.is_set() or self.stop.is_set():
                return False, None
            try:
                return True, fn(item)
            except ZoomAuthError as exc:
                fatal.append(exc)
            except ZoomAPIError as exc:
                log.warning("baseline: %s", exc)
                with self._errors_lock:
                    self._errors.append(str(exc))
            except BaseException as exc:
                fatal.append(exc)
            abort.set()
            return False, None

        workers = max(1, min(self.settings.concurrency, len(listed)))
        with ThreadPoolExecutor(workers, thread_name_prefix="zg-baseline") as pool:
            outcomes = list(pool.map(guarded, listed))
        if fatal:
            raise fatal[0]
        self._check_stop()
        return [value for ok, value in outcomes if ok]  # type: ignore[misc]

    def _result(
        self,
        scope: str,
        targets: Sequence[_Target],
        recordings: tuple[bl.RecordingResult, ...],
        *,
        full: bool,
    ) -> bl.BaselineResult:
        rows: list[bl.SettingResult] = []
        for target in targets:
            if target.level == bl.ACCOUNT or not full:
                rows.extend(target.results)
            else:
                rows.extend(r for r in target.results if r.status != bl.OK)
        return bl.BaselineResult(
            account=self.account.zoom_account_id,
            mode=self.profile.baseline_mode,
            dry_run=self.dry_run,
            scope=scope,
            settings=tuple(rows),
            recordings=recordings,
            recordings_checked=full and self.cleans_recordings,
            patches=sum(t.patches for t in targets),
            errors=tuple(self._errors),
        )


class _Lease:
    """``baseline:<account>``: one baseline run or re-check per account at a time."""

    def __init__(self, store: Store, name: str, clock: Clock) -> None:
        self.store, self.name, self.clock = store, name, clock
        self.holder = holder_id() + f":{threading.get_ident()}"

    def __enter__(self) -> _Lease:
        if not self.store.leases.acquire(
            self.name, self.holder, BASELINE_LEASE_SECONDS, self.clock()
        ):
            raise BaselineBusy(f"{self.name} is held by another process")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.store.leases.release(self.name, self.holder)


# Module helpers ---------------------------------------------------------------------------------


def recheck_baseline(
    settings: Settings,
    store: Store,
    client: ZoomClient,
    account: AccountRecord,
    scope: Scope,
    *,
    profile: policy.Profile,
    actor: str = "webhook",
    clock: Clock = utcnow,
) -> bl.BaselineResult:
    """Check (and in enforce mode fix and lock) one target after a settings webhook.

    ``scope`` is "account", ("group", group_id) or ("user", user_id); see ``scope_for_event``.
    Raises ``BaselineBusy`` while another baseline run holds the account (retry later).
    """
    runner = BaselineRunner(
        settings,
        store,
        client,
        account,
        profile=profile,
        recordings=False,
        actor=actor,
        clock=clock,
    )
    return runner.recheck(scope)


def _parse_scope(scope: Scope) -> tuple[str, str]:
    if isinstance(scope, tuple) and len(scope) == 2:
        level, ident = scope
        if level in (bl.GROUP, bl.USER) and isinstance(ident, str) and ident:
            return level, ident
    raise ValueError(f'scope must be "account", ("group", id) or ("user", id), got {scope!r}')


def _with_detail(result: bl.SettingResult, detail: str) -> bl.SettingResult:
    return replace(result, detail=f"{detail}; {result.detail}" if result.detail else detail)


def _past(action: str) -> str:
    return {"trash": "trashed", "delete": "deleted"}.get(action, action)


def _category(result: bl.SettingResult) -> str:
    if result.item_id == BASELINE_PMI_PASSCODE:
        # The PMI is a meeting: the officer hears about it as about any noncompliant meeting.
        return {bl.FIXED: MEETING_FIXED, bl.FAILED: MEETING_FIX_FAILED}.get(
            result.status, MEETING_REPORTED
        )
    if result.status == bl.FAILED:
        return SETTINGS_BASELINE_FAILED
    return SETTINGS_BASELINE


def _describe_target(target: _Target) -> str:
    if target.level == bl.ACCOUNT:
        return "the account"
    label = "group" if target.level == bl.GROUP else "user"
    return f"{label} {target.name or target.ident}"


def _yes_no(value: bool | None) -> str:
    return "no lock at this level" if value is None else ("yes" if value else "no")


def _show(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _reason(target: _Target, result: bl.SettingResult) -> str:
    where = _describe_target(target)
    if result.actual == result.desired and result.locked_before is False:
        return (
            f"For {where}, {result.field} is {_show(result.actual)} as the baseline wants, but it "
            "is not locked, so groups and users can change it."
        )
    if result.item_id == BASELINE_PMI_PASSCODE:
        return (
            f"The Personal Meeting ID room of {where} has no passcode, so anyone who has the "
            "link can join it."
        )
    return (
        f"For {where}, {result.field} is {_show(result.actual)}; the baseline wants "
        f"{_show(result.desired)}."
    )


def _alert_details(target: _Target, result: bl.SettingResult) -> dict[str, Any]:
    changed = result.status in (bl.FIXED, bl.FAILED) and result.after is not None
    changes = (
        [{"field": result.field, "before": result.actual, "after": result.after}] if changed else []
    )
    target_text = target.target + (f" ({target.name})" if target.name else "")
    return {
        "meeting_id": target.pmi if result.item_id == BASELINE_PMI_PASSCODE else None,
        "topic": None,
        "host_email": target.name if target.level == bl.USER else None,
        "start_time": None,
        "rule_id": result.rule_id,
        "rule": result.item.title,
        "reason": _reason(target, result),
        "guidance": result.item.guidance,
        "status": result.status,
        "changes": changes,
        "confirmed": (result.status == bl.FIXED) if changed else None,
        "failure": result.detail if result.status == bl.FAILED else None,
        "officer_action": _OFFICER_ACTIONS.get(result.status),
        "target": target_text,
        "enforcement": result.enforcement,
        "locked_before": _yes_no(result.locked_before),
        "locked_after": _yes_no(result.locked_after),
    }


def _recording_alert(result: bl.RecordingResult, status: str) -> dict[str, Any]:
    removed = result.action in ("trashed", "deleted")
    return {
        "meeting_id": result.meeting_id,
        "topic": result.topic,
        "host_email": result.host_email,
        "start_time": result.start_time,
        "rule_id": bl.RECORDING_RULE_ID,
        "rule": "Meetings are not recorded: existing cloud recordings are removed",
        "reason": (
            f"A cloud recording of this meeting ({result.files} file(s)) was found in the account."
        ),
        "guidance": bl.ITEMS[BASELINE_CLOUD_RECORDING].guidance,
        "status": status,
        "changes": [
            {
                "field": "cloud recording",
                "before": f"{result.files} file(s)",
                "after": result.action,
            }
        ]
        if removed or result.action == "failed"
        else [],
        "confirmed": removed if removed or result.action == "failed" else None,
        "failure": result.detail if result.action == "failed" else None,
        "officer_action": None,
        "recording_instance": result.uuid,
    }

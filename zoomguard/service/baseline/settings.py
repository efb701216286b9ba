"""Applying the account settings baseline: read, compare, fix, lock, verify by re-reading,
record, alert.

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
   meeting in the sweep; findings of targets now compliant are resolved;
4. existing cloud recordings are cleared out (``zoomguard.service.baseline.recordings``).

Report mode and ``dry_run`` read, compare and record, and change nothing in Zoom. A second run
on a compliant account sends no PATCH and writes no alert (an alert is written when a finding is
new or its status changed).

``recheck_baseline`` is the entry point for the settings webhooks
(``zoomguard.service.events.settings``): it checks and fixes one target.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from zoomguard.config import Settings
from zoomguard.errors import ZoomAPIError, ZoomAuthError
from zoomguard.rules import baseline as bl
from zoomguard.rules import policy
from zoomguard.rules.baseline_items import BASELINE_CLOUD_RECORDING
from zoomguard.service.alerts import delivery
from zoomguard.service.baseline.common import DEFAULT_ACTOR, BaselineRun, Scope, Target
from zoomguard.service.baseline.recordings import RecordingCleaner
from zoomguard.service.baseline.wording import setting_alert, setting_category
from zoomguard.service.clients import Clock, utcnow
from zoomguard.store import AccountRecord, Store
from zoomguard.zoom.client import ZoomClient


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
        self.make_passcode = make_passcode
        self._run = BaselineRun(
            settings,
            store,
            client,
            account,
            profile=profile,
            dry_run=dry_run,
            actor=actor,
            stop=stop or threading.Event(),
            clock=clock,
        )

    @property
    def enforce(self) -> bool:
        return self._run.enforce

    @property
    def cleans_recordings(self) -> bool:
        """Existing recordings are looked for only while the policy keeps cloud recording off:
        zoomguard never removes what the policy allows."""
        return self.recordings and self.baseline.enabled(BASELINE_CLOUD_RECORDING)

    # Entry points -----------------------------------------------------------------------------

    def run(self) -> bl.BaselineResult:
        """Check the account, every group and every active user; fix; clean out recordings."""
        with self._run.lease():
            self._run.load_open_findings()
            account = self._read_target(bl.ACCOUNT, None, None)
            account_locks = bl.lock_state(account.evaluation)
            account_values = bl.values_of(account.evaluation)

            def read_group(group: Mapping[str, Any]) -> Target:
                return self._read_group(group, account_locks, account_values)

            groups = self._run.map(
                read_group, [g for g in self.client.list_groups() if g.get("id")]
            )
            users = [u for u in self.client.list_users(status="active") if u.get("id")]
            self._run.check_stop()
            by_group = {t.ident: t.evaluation for t in groups if t.ident}

            def read_user(user: Mapping[str, Any]) -> Target:
                return self._read_user(user, account_locks, account_values, by_group)

            user_targets = self._run.map(read_user, users)

            # Fix from the top down: locking the account brings most groups and users in line.
            # Each target is recorded as soon as it is settled, so a run stopped half-way keeps
            # the audit trail of every change it made.
            self._settle_account(account)
            self._record(account)
            locks_after = bl.lock_state(account.latest)
            values_after = bl.values_of(account.latest)
            for target in groups:
                target.inherited, target.above = locks_after, (values_after,)
            self._run.map(self._settle_and_record, groups)
            groups_after = {t.ident: t.latest for t in groups if t.ident}
            for target in user_targets:
                mine = [groups_after[g] for g in target.group_ids if g in groups_after]
                target.inherited = bl.combine_locks(locks_after, *map(bl.lock_state, mine))
                target.above = (values_after, *map(bl.values_of, mine))
            self._run.map(self._settle_and_record, user_targets)

            everyone = [account, *groups, *user_targets]
            if not self._run.errors:
                self._resolve_vanished({t.target for t in everyone})
            recordings: tuple[bl.RecordingResult, ...] = ()
            if self.cleans_recordings:
                cleaner = RecordingCleaner(self._run, lookback_days=self.lookback_days)
                recordings = cleaner.clean(users)
            return self._result(bl.ACCOUNT, everyone, recordings, full=True)

    def recheck(self, scope: Scope) -> bl.BaselineResult:
        """Check and fix one target: the account itself, one group or one user."""
        with self._run.lease():
            self._run.load_open_findings()
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
    ) -> Target:
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
    ) -> Target:
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
    ) -> Target:
        self._run.check_stop()
        settings, locks = self._read(level, ident)
        # Read-only evaluation: patches (and a PMI passcode) are made just before sending.
        evaluation = self._evaluate(level, ident, settings, locks, inherited, above, enforce=False)
        return Target(
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

    def _settle_account(self, target: Target) -> None:
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

    def _settle_and_record(self, target: Target) -> None:
        self._settle_below(target)
        self._record(target)

    def _settle_below(self, target: Target, *, reread_first: bool = True) -> None:
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

    def _patch_and_verify(self, target: Target, current: bl.TargetEvaluation) -> None:
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
        # What a person must set in the portal was not part of the PATCH: it does not count.
        confirmed = all(
            r.status in (bl.OK, bl.FIXED) for r in target.results if r.item.portal is None
        )
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
        self, target: Target, body: Mapping[str, Any], option: str | None, *, locks: bool
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

    # Recording in the store --------------------------------------------------------------------

    def _record(self, target: Target) -> None:
        """Findings, alerts and audit entries of one target, in one transaction."""
        deviations = [r for r in target.results if r.status != bl.OK]
        has_open = target.target in self._run.open_targets
        if not deviations and not has_open and not target.audits:
            return
        now = self._run.clock()
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
                if self._run.open.get((target.target, result.rule_id)) == result.status:
                    continue  # the officer already heard about this, in this state
                category = setting_category(result)
                self.store.outbox.record_alert(
                    account_pk=self.account.id,
                    sweep_id=None,
                    delivery=delivery(self.settings, category),
                    category=category,
                    details=setting_alert(target, result),
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
        self._run.resolve_targets(
            t
            for t, rule in self._run.open
            if t not in seen and rule != bl.RECORDING_RULE_ID and not t.startswith("recording:")
        )

    def _result(
        self,
        scope: str,
        targets: Sequence[Target],
        recordings: tuple[bl.RecordingResult, ...],
        *,
        full: bool,
    ) -> bl.BaselineResult:
        regions = next(
            (bl.data_center_regions(t.settings) for t in targets if t.level == bl.ACCOUNT), None
        )
        if regions is not None:  # for the dashboard: where the account's meetings may be hosted
            self.store.accounts.save_data_center_regions(
                self.account.id, regions, self._run.clock()
            )
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
            errors=tuple(self._run.errors),
            data_center_regions=regions,
        )


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

    ``scope`` is "account", ("group", group_id) or ("user", user_id)
    (``zoomguard.service.events.settings.scope_for_event`` maps a webhook to it).
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

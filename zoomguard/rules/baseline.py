"""The account-settings baseline: Zoom settings JSON in, deviations and PATCH bodies out.

PURE like ``zoomguard.rules.policy``: no I/O, no clock; passcode generation is injectable.

Fixing meetings one by one treats the symptom; Zoom can enforce most of the guidance at the
source, in the account's settings, *locked* so that groups and users cannot change them. The
baseline names each such setting once (``ITEMS``) with the paths Zoom uses for it at each level,
because Zoom files one setting under different paths at different levels (the waiting room is
``meeting_security.waiting_room`` on the account but ``in_meeting.waiting_room`` on a group or
user) and a lock is always a boolean, even where the setting is a string (``auto_recording``).
Every path here is one Zoom's OpenAPI documents define for that level.

What counts as a deviation, by level:

- account: the value differs from the baseline, or the setting is not locked. The fix sets the
  value and locks it.
- group: the group's value differs. The fix sets it and locks it at group level too (needed only
  when the account lock did not take).
- user: the user's value differs, or the user's Personal Meeting ID room has no passcode. A PMI
  is a meeting that lives in the user's settings (its passcode, waiting room and join before
  host), so it is checked like a meeting; no lock exists for it.

``evaluate`` reads one target's settings (and locks) and returns one ``Check`` per baseline item
with the PATCH bodies that fix every deviation. ``settle`` compares that with a re-read after
the PATCH: a fix counts only when the re-read shows it, and the lock shows locked.
``BaselineResult`` and ``render_summary`` say, per setting, what was wanted, what was there, and
whether it is now locked at the source or only repaired after the fact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final, Literal

from zoomguard.rules.policy import PASSCODE_ALPHABET, JSONScalar, Mode, generate_passcode
from zoomguard.rules.policy_file import (
    BASELINE_AUTO_RECORDING,
    BASELINE_CLOUD_RECORDING,
    BASELINE_DEFAULTS,
    BASELINE_FILE_TRANSFER,
    BASELINE_JOIN_BEFORE_HOST,
    BASELINE_LOCAL_RECORDING,
    BASELINE_PASSCODE_IN_JOIN_LINK,
    BASELINE_PASSCODE_INSTANT_MEETINGS,
    BASELINE_PASSCODE_NEW_MEETINGS,
    BASELINE_PASSCODE_PMI_MEETINGS,
    BASELINE_PMI_PASSCODE,
    BASELINE_WAITING_ROOM,
    Baseline,
)

Level = Literal["account", "group", "user"]
ACCOUNT: Final = "account"
GROUP: Final = "group"
USER: Final = "user"

Status = Literal["ok", "fixed", "failed", "reported"]
OK: Final = "ok"
FIXED: Final = "fixed"
FAILED: Final = "failed"
REPORTED: Final = "reported"

RULE_PREFIX: Final = "baseline."
# The rule id of a cloud recording found on the account (see zoomguard.service.baseline).
RECORDING_RULE_ID: Final = "baseline.cloud_recording_kept"

# Zoom returns this section only for GET ...?option=meeting_security, and takes it in a PATCH
# sent with the same option; every other section is read and written without an option.
MEETING_SECURITY: Final = "meeting_security"

# Settings that hold a passcode in clear: never shown anywhere but in the PATCH sent to Zoom.
SECRET_KEYS: Final[frozenset[str]] = frozenset({"pmi_password", "password"})
SECRET_SET: Final = "(set)"  # noqa: S105 - the mask, not a passcode

_PMI_PASSCODE_PATH: Final = "schedule_meeting.pmi_password"
_PERSONAL_MEETING_PATH: Final = "schedule_meeting.personal_meeting"

# Quoted verbatim from zoomguard/rules/guidance/ (emphasis dropped), like zoomguard.rules.policy.
_GUIDANCE_ACCESS = "Participants use a password to access a meeting."
_GUIDANCE_SEPARATE = "The password is sent separately from the meeting link."
_GUIDANCE_IDENTIFIED = (
    "Each participant is identified, and the \u201cmeeting\u201d is locked to prevent "
    "unauthorized parties joining."
)
_GUIDANCE_HOST_FIRST = "No one joins the meeting before the host."
_GUIDANCE_NOT_RECORDED = (
    "Video calls or conference calls are not recorded \u2013 CLBC staff confirm the host has "
    "turned off this option."
)
_GUIDANCE_NO_FILES = "No files or documents are transferred using the video link."


@dataclass(frozen=True)
class Item:
    """One baseline setting: the value the guidance asks for and where Zoom keeps it.

    ``paths`` and ``lock_paths`` map a level to the dotted paths of the setting (or of its lock)
    at that level; the first path is the one reports show. A level that is absent does not have
    the setting (or cannot lock it).
    """

    id: str
    title: str  # plain language: what the locked setting guarantees
    guidance: str
    desired: JSONScalar
    paths: Mapping[str, tuple[str, ...]]
    lock_paths: Mapping[str, tuple[str, ...]]

    @property
    def rule_id(self) -> str:
        return RULE_PREFIX + self.id

    @property
    def lockable(self) -> bool:
        return bool(self.lock_paths)


_SM = "schedule_meeting."
_IM = "in_meeting."
_RC = "recording."
_MS = MEETING_SECURITY + "."


def _everywhere(path: str) -> dict[str, tuple[str, ...]]:
    return {ACCOUNT: (path,), GROUP: (path,), USER: (path,)}


def _locks(path: str) -> dict[str, tuple[str, ...]]:
    return {ACCOUNT: (path,), GROUP: (path,)}


def _item(
    item_id: str,
    title: str,
    guidance: str,
    desired: JSONScalar,
    paths: Mapping[str, tuple[str, ...]],
    lock_paths: Mapping[str, tuple[str, ...]],
) -> Item:
    return Item(
        item_id,
        title,
        guidance,
        desired,
        MappingProxyType(dict(paths)),
        MappingProxyType(dict(lock_paths)),
    )


# Paths checked against accounts-endpoints.json (account settings and lock_settings) and
# users-endpoints.json (group settings and lock_settings, user settings).
ITEMS: Final[Mapping[str, Item]] = MappingProxyType(
    {
        item.id: item
        for item in (
            _item(
                BASELINE_PASSCODE_NEW_MEETINGS,
                "New meetings require a passcode",
                _GUIDANCE_ACCESS,
                True,
                _everywhere(_SM + "require_password_for_scheduling_new_meetings"),
                _locks(_SM + "require_password_for_scheduling_new_meetings"),
            ),
            _item(
                BASELINE_PASSCODE_INSTANT_MEETINGS,
                "Instant meetings require a passcode",
                _GUIDANCE_ACCESS,
                True,
                _everywhere(_SM + "require_password_for_instant_meetings"),
                _locks(_SM + "require_password_for_instant_meetings"),
            ),
            _item(
                BASELINE_PASSCODE_PMI_MEETINGS,
                "Personal Meeting ID (PMI) meetings require a passcode",
                _GUIDANCE_ACCESS,
                "all",
                _everywhere(_SM + "require_password_for_pmi_meetings"),
                _locks(_SM + "require_password_for_pmi_meetings"),
            ),
            _item(
                BASELINE_PASSCODE_IN_JOIN_LINK,
                "The passcode is not embedded in the join link",
                _GUIDANCE_SEPARATE,
                False,
                {
                    ACCOUNT: (_MS + "embed_password_in_join_link",),
                    GROUP: (
                        _SM + "embed_password_in_join_link",
                        _MS + "embed_password_in_join_link",
                    ),
                    USER: (
                        _SM + "embed_password_in_join_link",
                        _MS + "embed_password_in_join_link",
                    ),
                },
                {
                    ACCOUNT: (
                        _SM + "embed_password_in_join_link",
                        _MS + "embed_password_in_join_link",
                    ),
                    GROUP: (
                        _SM + "embed_password_in_join_link",
                        _MS + "embed_password_in_join_link",
                    ),
                },
            ),
            _item(
                BASELINE_WAITING_ROOM,
                "The waiting room is on",
                _GUIDANCE_IDENTIFIED,
                True,
                {
                    ACCOUNT: (_MS + "waiting_room",),
                    GROUP: (_IM + "waiting_room", _MS + "waiting_room"),
                    USER: (_IM + "waiting_room", _MS + "waiting_room"),
                },
                {
                    ACCOUNT: (_MS + "waiting_room",),
                    GROUP: (_IM + "waiting_room", _MS + "waiting_room"),
                },
            ),
            _item(
                BASELINE_JOIN_BEFORE_HOST,
                "No one can join before the host",
                _GUIDANCE_HOST_FIRST,
                False,
                _everywhere(_SM + "join_before_host"),
                _locks(_SM + "join_before_host"),
            ),
            _item(
                BASELINE_LOCAL_RECORDING,
                "Local recording is off",
                _GUIDANCE_NOT_RECORDED,
                False,
                _everywhere(_RC + "local_recording"),
                _locks(_RC + "local_recording"),
            ),
            _item(
                BASELINE_CLOUD_RECORDING,
                "Cloud recording is off",
                _GUIDANCE_NOT_RECORDED,
                False,
                _everywhere(_RC + "cloud_recording"),
                _locks(_RC + "cloud_recording"),
            ),
            _item(
                BASELINE_AUTO_RECORDING,
                "Meetings are never recorded automatically",
                _GUIDANCE_NOT_RECORDED,
                "none",
                _everywhere(_RC + "auto_recording"),
                _locks(_RC + "auto_recording"),
            ),
            _item(
                BASELINE_FILE_TRANSFER,
                "File transfer in meeting chat is off",
                _GUIDANCE_NO_FILES,
                False,
                _everywhere(_IM + "file_transfer"),
                _locks(_IM + "file_transfer"),
            ),
            _item(
                BASELINE_PMI_PASSCODE,
                "The user's Personal Meeting ID room has a passcode",
                _GUIDANCE_ACCESS,
                SECRET_SET,
                {USER: (_PMI_PASSCODE_PATH,)},
                {},
            ),
        )
    }
)

assert tuple(ITEMS) == tuple(BASELINE_DEFAULTS), "ITEMS and BASELINE_DEFAULTS must agree"


def target_of(level: str, ident: str | None = None) -> str:
    """The findings target: "account", "group:<id>" or "user:<id>" (fits findings.meeting_id)."""
    if level == ACCOUNT:
        return ACCOUNT
    if level not in (GROUP, USER) or not ident:
        raise ValueError(f"a {level} target needs an id")
    return f"{level}:{ident}"


def is_baseline_rule(rule_id: str) -> bool:
    return rule_id.startswith(RULE_PREFIX)


def needs_meeting_security(level: str, baseline: Baseline, *, locks: bool = False) -> bool:
    """Whether reading this level needs a second GET with ``?option=meeting_security``."""
    for item in _items_at(level, baseline, locks=locks):
        paths = item.lock_paths[level] if locks else item.paths[level]
        if any(p.startswith(_MS) for p in paths):
            return True
    return False


def _items_at(level: str, baseline: Baseline, *, locks: bool = False) -> Iterable[Item]:
    for item in ITEMS.values():
        if not baseline.enabled(item.id):
            continue
        if (item.lock_paths if locks else item.paths).get(level):
            yield item


# Values -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One baseline item as read at one target. ``actual`` is never a passcode."""

    item_id: str
    field: str  # the path shown: the first that deviates, else the item's first path
    desired: JSONScalar
    actual: JSONScalar  # None: Zoom did not return the setting
    locked: bool | None  # None: no lock exists for it at this level
    value_ok: bool
    lock_ok: bool
    # A group's or user's wrong value that is the same wrong value a level above it has: it is
    # inherited, reported and fixed there, not here.
    follows_above: bool = False

    @property
    def ok(self) -> bool:
        return (self.value_ok and self.lock_ok) or self.follows_above

    @property
    def item(self) -> Item:
        return ITEMS[self.item_id]

    @property
    def rule_id(self) -> str:
        return RULE_PREFIX + self.item_id


@dataclass(frozen=True)
class TargetEvaluation:
    level: str
    target: str
    checks: tuple[Check, ...]
    # Empty when nothing deviates or in report mode. ``settings_patch`` may hold a new PMI
    # passcode in clear: send it to Zoom and show ``audit_settings_patch`` anywhere else.
    settings_patch: dict[str, Any] = field(hash=False)
    lock_patch: dict[str, Any] = field(hash=False)

    @property
    def deviations(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    @property
    def compliant(self) -> bool:
        return not self.deviations

    @property
    def audit_settings_patch(self) -> dict[str, Any]:
        return masked_tree(self.settings_patch)

    def check(self, item_id: str) -> Check | None:
        return next((c for c in self.checks if c.item_id == item_id), None)


def get_path(document: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a dotted path; None when absent (``has_path`` tells the two apart)."""
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def has_path(document: Mapping[str, Any] | None, path: str) -> bool:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def masked_value(path: str, value: Any) -> Any:
    """A passcode as "(set)" or its emptiness; every other value as it is."""
    if path.split(".")[-1] in SECRET_KEYS:
        if value is None or value == "":
            return value
        return SECRET_SET
    return value


def masked_tree(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out[key] = masked_tree(value, path + ".")
        else:
            out[key] = masked_value(path, value)
    return out


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, passcodes masked: for audit before/after values."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, path + "."))
        else:
            out[path] = masked_value(path, value)
    return out


def merge_reads(*documents: Mapping[str, Any] | None) -> dict[str, Any]:
    """One settings document from the plain GET and the ``?option=meeting_security`` GET."""
    merged: dict[str, Any] = {}
    for document in documents:
        if not document:
            continue
        for section, content in document.items():
            if isinstance(content, Mapping) and isinstance(merged.get(section), dict):
                merged[section] = {**merged[section], **content}
            else:
                merged[section] = dict(content) if isinstance(content, Mapping) else content
    return merged


def split_by_option(patch: Mapping[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """The PATCH bodies to send: (None, plain sections) and ("meeting_security", {...}).

    Zoom accepts the meeting_security section only on a PATCH with ``?option=meeting_security``.
    Empty bodies are left out.
    """
    plain = {k: v for k, v in patch.items() if k != MEETING_SECURITY}
    security = {k: v for k, v in patch.items() if k == MEETING_SECURITY}
    return [
        (option, body) for option, body in ((None, plain), (MEETING_SECURITY, security)) if body
    ]


# Evaluation -------------------------------------------------------------------------------------


def evaluate(
    level: str,
    target: str,
    settings: Mapping[str, Any],
    locks: Mapping[str, Any] | None,
    baseline: Baseline,
    *,
    enforce: bool,
    inherited_locks: Mapping[str, bool] | None = None,
    above: Sequence[Mapping[str, JSONScalar]] = (),
    make_passcode: Callable[[], str] = generate_passcode,
) -> TargetEvaluation:
    """Check one target's settings (merged plain + meeting_security reads) against ``baseline``.

    ``locks`` is the target's own lock_settings (account or group; None for a user).
    ``inherited_locks`` (item id -> locked) says which items a higher level locks, for a user
    or group: shown as ``Check.locked`` where the level has no lock of its own.
    ``above`` holds the values (item id -> value, see ``values_of``) of the levels this group or
    user inherits from: a wrong value equal to one of them is inherited, not the target's own
    deviation (``Check.follows_above``), and is fixed where it comes from. Zoom's API returns
    only effective values, so this is how an inherited value is told from an override.
    With ``enforce`` the patches fix every deviation; otherwise they are empty.
    """
    if level not in (ACCOUNT, GROUP, USER):
        raise ValueError(f"unknown level {level!r}")
    checks: list[Check] = []
    settings_patch: dict[str, Any] = {}
    lock_patch: dict[str, Any] = {}
    for item in _items_at(level, baseline):
        if item.id == BASELINE_PMI_PASSCODE:
            check = _pmi_check(settings)
            if check is None:
                continue
        else:
            check = _setting_check(level, item, settings, locks, inherited_locks)
            if level != ACCOUNT and not check.value_ok and check.actual is not None:
                wrong_above = [
                    v[item.id] for v in above if item.id in v and v[item.id] != item.desired
                ]
                if check.actual in wrong_above:
                    check = replace(check, follows_above=True)
        checks.append(check)
        if check.ok or not enforce:
            continue
        if not check.value_ok:
            value = make_passcode() if item.id == BASELINE_PMI_PASSCODE else item.desired
            if item.id == BASELINE_PMI_PASSCODE and not _valid_passcode(value):
                raise ValueError("make_passcode returned a passcode Zoom would reject")
            for path in item.paths[level]:
                _set_path(settings_patch, path, value)
        # The account is locked for every deviation; a group only where its value was wrong,
        # which happens only when the account lock did not take.
        for path in item.lock_paths.get(level, ()):
            _set_path(lock_patch, path, True)
    return TargetEvaluation(level, target, tuple(checks), settings_patch, lock_patch)


def _valid_passcode(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 10
        and all(c in PASSCODE_ALPHABET for c in value)
    )


def _setting_check(
    level: str,
    item: Item,
    settings: Mapping[str, Any],
    locks: Mapping[str, Any] | None,
    inherited_locks: Mapping[str, bool] | None,
) -> Check:
    paths = item.paths[level]
    present = [p for p in paths if has_path(settings, p)]
    wrong = [p for p in present if get_path(settings, p) != item.desired]
    # Absent is not "right" for certain: zoomguard cannot confirm it, so it sets it.
    value_ok = bool(present) and not wrong
    shown = wrong[0] if wrong else (present[0] if present else paths[0])
    actual = _scalar(get_path(settings, shown)) if present else None
    own_lock_paths = item.lock_paths.get(level, ())
    locked: bool | None
    if locks is not None and own_lock_paths:
        # Where Zoom keeps one lock under two paths, judge by those it returned (it may leave
        # one out); the fix sets both.
        shown_locks = [p for p in own_lock_paths if has_path(locks, p)]
        locked = bool(shown_locks) and all(get_path(locks, p) is True for p in shown_locks)
        if not locked and inherited_locks is not None:
            locked = bool(inherited_locks.get(item.id, False))
    elif inherited_locks is not None and item.lockable:
        locked = bool(inherited_locks.get(item.id, False))
    else:
        locked = None
    # Only the account must hold the lock: below it, a right value is enough.
    lock_ok = locked is True if level == ACCOUNT else True
    return Check(item.id, shown, item.desired, actual, locked, value_ok, lock_ok)


def _pmi_check(settings: Mapping[str, Any]) -> Check | None:
    """The user's PMI room has a passcode; None when the PMI is off or Zoom does not say."""
    if get_path(settings, _PERSONAL_MEETING_PATH) is False:
        return None
    if not has_path(settings, _PMI_PASSCODE_PATH):
        return None
    value = get_path(settings, _PMI_PASSCODE_PATH)
    has_passcode = isinstance(value, str) and value != ""
    actual: JSONScalar = SECRET_SET if has_passcode else ("" if value == "" else None)
    return Check(
        BASELINE_PMI_PASSCODE, _PMI_PASSCODE_PATH, SECRET_SET, actual, None, has_passcode, True
    )


def _scalar(value: Any) -> JSONScalar:
    if value is None or isinstance(value, str | bool | int):
        return value
    return repr(value)


def values_of(evaluation: TargetEvaluation) -> dict[str, JSONScalar]:
    """Item id -> value read, for passing down as ``above``."""
    return {c.item_id: c.actual for c in evaluation.checks}


def lock_state(evaluation: TargetEvaluation) -> dict[str, bool]:
    """Item id -> locked, for passing down as ``inherited_locks``."""
    return {c.item_id: c.locked is True for c in evaluation.checks}


def combine_locks(*levels: Mapping[str, bool] | None) -> dict[str, bool]:
    """An item is locked for a user when the account or any of the user's groups locks it."""
    out: dict[str, bool] = {}
    for locks in levels:
        for item_id, locked in (locks or {}).items():
            out[item_id] = out.get(item_id, False) or locked
    return out


# Results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingResult:
    """What happened to one baseline item at one target. No value here is ever a passcode."""

    target: str
    target_name: str | None  # the group's name or the user's email
    item_id: str
    field: str
    desired: JSONScalar
    actual: JSONScalar  # before
    after: JSONScalar  # re-read after the fix; None when nothing was re-read
    locked_before: bool | None
    locked_after: bool | None
    status: Status
    detail: str | None = None

    @property
    def rule_id(self) -> str:
        return RULE_PREFIX + self.item_id

    @property
    def item(self) -> Item:
        return ITEMS[self.item_id]

    @property
    def level(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def enforcement(self) -> str:
        """Whether the rule is enforced at the source (locked) or repaired after the fact."""
        locked = self.locked_after if self.locked_after is not None else self.locked_before
        if locked:
            return "locked at the source"
        if not self.item.lockable:
            return "cannot be locked: repaired after the fact"
        return "not locked: repaired after the fact"

    @property
    def status_text(self) -> str:
        if self.status == FIXED:
            return "fixed and locked" if self.locked_after else "fixed"
        return self.status


def settle(
    before: TargetEvaluation,
    *,
    reread: TargetEvaluation | None,
    patched: bool,
    enforce: bool,
    target_name: str | None = None,
    error: str | None = None,
    dry_run: bool = False,
) -> tuple[SettingResult, ...]:
    """Each check of ``before`` with its outcome.

    ``reread`` evaluates the target as Zoom shows it after zoomguard acted (after its own PATCH,
    or after a higher level was locked): a deviation counts as fixed only when the re-read shows
    the right value and, at account level, the lock. ``error`` is why the fix could not be sent.
    """
    results: list[SettingResult] = []
    for check in before.checks:
        after_check = reread.check(check.item_id) if reread is not None else None
        status: Status
        detail: str | None = None
        after: JSONScalar = None
        locked_after = check.locked
        if check.ok:
            status = OK
        elif not enforce:
            status = REPORTED
            detail = "dry run: would be fixed and locked" if dry_run else "report mode: not changed"
        elif error is not None:
            status = FAILED
            detail = error
        elif after_check is None:
            status = FAILED
            detail = "could not confirm: the setting was not read back after the fix"
        else:
            after = after_check.actual
            locked_after = after_check.locked
            if after_check.ok:
                status = FIXED
                if not patched:
                    detail = "now follows the setting locked above it"
            else:
                status = FAILED
                detail = _failure(after_check)
        results.append(
            SettingResult(
                target=before.target,
                target_name=target_name,
                item_id=check.item_id,
                field=check.field,
                desired=check.desired,
                actual=check.actual,
                after=after,
                locked_before=check.locked,
                locked_after=locked_after,
                status=status,
                detail=detail,
            )
        )
    return tuple(results)


def _failure(check: Check) -> str:
    if not check.value_ok:
        return (
            "Zoom kept the old value after the fix: a lock set above this level, or the "
            "account's plan, overrides it"
        )
    return "the value is right but Zoom did not keep the lock"


@dataclass(frozen=True)
class RecordingResult:
    """One meeting instance's cloud recording found within the look-back."""

    meeting_id: str
    uuid: str
    host_id: str | None
    host_email: str | None
    topic: str | None  # redacted
    start_time: str | None
    files: int
    total_size: int
    action: str  # trashed | deleted | reported | failed | gone (removed by someone else)
    detail: str | None = None


@dataclass(frozen=True)
class BaselineResult:
    """One baseline run (or re-check) of one account."""

    account: str
    mode: Mode
    dry_run: bool
    scope: str  # "account" for a full run, else the target re-checked
    settings: tuple[SettingResult, ...] = ()
    recordings: tuple[RecordingResult, ...] = ()
    recordings_checked: bool = False
    patches: int = 0
    errors: tuple[str, ...] = ()

    def count(self, status: str) -> int:
        return sum(1 for s in self.settings if s.status == status)

    @property
    def deviations(self) -> tuple[SettingResult, ...]:
        return tuple(s for s in self.settings if s.status != OK)

    @property
    def changed_anything(self) -> bool:
        """Whether zoomguard changed anything in Zoom (a PATCH, a trashed recording)."""
        return self.patches > 0 or any(r.action in ("trashed", "deleted") for r in self.recordings)

    @property
    def compliant(self) -> bool:
        return not self.errors and all(s.status in (OK, FIXED) for s in self.settings)


def _show(value: JSONScalar) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value == "":
        return "(empty)"
    return str(value)


def _lock_text(before: bool | None, after: bool | None) -> str:
    def one(value: bool | None) -> str:
        return "-" if value is None else ("yes" if value else "no")

    if before == after:
        return one(before)
    return f"{one(before)} -> {one(after)}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    return lines


def render_summary(result: BaselineResult) -> str:
    """A short text summary: the account's settings, the deviating groups and users, the
    recordings, and which rules are locked at the source versus only repaired after the fact."""
    mode = result.mode + (" (dry run: nothing changed)" if result.dry_run else "")
    lines = [f"Zoom account baseline for {result.account}: {mode}"]
    account_rows = [s for s in result.settings if s.level == ACCOUNT]
    if account_rows:
        lines.append("")
        rows = [
            (
                s.item_id,
                _show(s.desired),
                _show(s.actual),
                _lock_text(s.locked_before, s.locked_after),
                s.status_text,
            )
            for s in account_rows
        ]
        lines.extend(_table(("account setting", "desired", "was", "locked", "status"), rows))
    below = [s for s in result.deviations if s.level != ACCOUNT]
    if below:
        lines.append("")
        lines.append("Groups and users that deviated:")
        rows = [
            (
                f"{s.target}" + (f" ({s.target_name})" if s.target_name else ""),
                s.item_id,
                _show(s.actual),
                s.status_text,
                s.detail or "",
            )
            for s in below
        ]
        lines.extend(_table(("target", "setting", "was", "status", "detail"), rows))
    elif result.scope == ACCOUNT:
        lines.append("")
        lines.append("No group or user deviated from the baseline.")
    failed = [s for s in result.settings if s.status == FAILED]
    for s in failed:
        lines.append(f"FAILED {s.target} {s.item_id}: {s.detail}")
    lines.append("")
    lines.extend(_enforcement_lines(result))
    if result.recordings_checked:
        lines.append("")
        lines.extend(_recording_lines(result.recordings))
    for error in result.errors:
        lines.append(f"ERROR {error}")
    lines.append(
        f"Zoom settings updated (PATCH): {result.patches}; "
        f"{'changes were made' if result.changed_anything else 'nothing was changed in Zoom'}."
    )
    return "\n".join(lines)


def _enforcement_lines(result: BaselineResult) -> list[str]:
    account = {s.item_id: s for s in result.settings if s.level == ACCOUNT}
    locked = [i for i, s in account.items() if s.enforcement == "locked at the source"]
    repaired = sorted(
        {s.item_id for s in result.settings if s.item_id not in locked and s.status != OK}
        | {i for i, s in account.items() if i not in locked}
    )
    lines = [
        "Locked at the source (groups and users cannot change them): "
        + (", ".join(locked) if locked else "none")
    ]
    if repaired:
        lines.append("Only repaired after the fact (not locked): " + ", ".join(repaired))
    return lines


def _recording_lines(recordings: tuple[RecordingResult, ...]) -> list[str]:
    if not recordings:
        return ["Cloud recordings within the look-back: none."]
    counts: dict[str, int] = {}
    for r in recordings:
        counts[r.action] = counts.get(r.action, 0) + 1
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    lines = [f"Cloud recordings within the look-back: {len(recordings)} ({summary})"]
    for r in recordings:
        who = r.host_email or r.host_id or "unknown host"
        extra = f": {r.detail}" if r.detail else ""
        lines.append(f"  meeting {r.meeting_id} ({who}, {r.start_time or '?'}) {r.action}{extra}")
    return lines

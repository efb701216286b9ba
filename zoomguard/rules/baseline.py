"""The account-settings baseline: Zoom settings JSON in, deviations and PATCH bodies out.

PURE like ``zoomguard.rules.policy``: no I/O, no clock; passcode generation is injectable.
The settings themselves are declared once, in ``zoomguard.rules.baseline_items.ITEMS``; the
results and the text summary are in ``zoomguard.rules.baseline_results``. The names callers use
from both are re-exported here, so ``zoomguard.rules.baseline`` is the one import for it.

Fixing meetings one by one treats the symptom; Zoom can enforce most of the guidance at the
source, in the account's settings, *locked* so that groups and users cannot change them.

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
from typing import Any, Final

from zoomguard.masking import SETTINGS_PASSCODE_FIELDS, masked_tree
from zoomguard.masking import masked_value as masked_value
from zoomguard.rules.baseline_items import (
    ACCOUNT,
    BASELINE_DEFAULTS,
    BASELINE_PMI_PASSCODE,
    DATA_CENTER_REGIONS_PATH,
    DEFAULT_BASELINE_ITEMS,
    GROUP,
    ITEMS,
    MEETING_SECURITY,
    PERSONAL_MEETING_PATH,
    PMI_PASSCODE_PATH,
    RULE_PREFIX,
    SECRET_SET,
    USER,
    Item,
    Level,
)
from zoomguard.rules.baseline_results import (
    FAILED,
    FIXED,
    OK,
    RECORDING_RULE_ID,
    REPORTED,
    BaselineResult,
    RecordingResult,
    SettingResult,
    Status,
    data_center_line,
    render_summary,
)
from zoomguard.rules.passcodes import acceptable_passcode, generate_passcode
from zoomguard.rules.profile import Baseline
from zoomguard.rules.rule_types import JSONScalar

__all__ = [
    "ACCOUNT",
    "BASELINE_DEFAULTS",
    "DEFAULT_BASELINE_ITEMS",
    "FAILED",
    "FIXED",
    "GROUP",
    "ITEMS",
    "MEETING_SECURITY",
    "OK",
    "RECORDING_RULE_ID",
    "REPORTED",
    "RULE_PREFIX",
    "SECRET_KEYS",
    "SECRET_SET",
    "USER",
    "BaselineResult",
    "Check",
    "Item",
    "Level",
    "RecordingResult",
    "SettingResult",
    "Status",
    "TargetEvaluation",
    "combine_locks",
    "data_center_line",
    "data_center_regions",
    "evaluate",
    "flatten",
    "get_path",
    "has_path",
    "is_baseline_rule",
    "lock_state",
    "masked_tree",
    "masked_value",
    "merge_reads",
    "needs_meeting_security",
    "render_summary",
    "settle",
    "split_by_option",
    "target_of",
    "values_of",
]

# Settings that hold a passcode in clear: never shown anywhere but in the PATCH sent to Zoom.
SECRET_KEYS: Final[frozenset[str]] = SETTINGS_PASSCODE_FIELDS

_MS = MEETING_SECURITY + "."


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
        if check.ok or not enforce or item.portal is not None:
            continue  # a portal-only setting is reported for a person, never PATCHed
        if not check.value_ok:
            value = make_passcode() if item.id == BASELINE_PMI_PASSCODE else item.desired
            if item.id == BASELINE_PMI_PASSCODE and not acceptable_passcode(value):
                raise ValueError("make_passcode returned a passcode Zoom would reject")
            for path in item.paths[level]:
                _set_path(settings_patch, path, value)
        # The account is locked for every deviation; a group only where its value was wrong,
        # which happens only when the account lock did not take.
        for path in item.lock_paths.get(level, ()):
            _set_path(lock_patch, path, True)
    return TargetEvaluation(level, target, tuple(checks), settings_patch, lock_patch)


def _setting_check(
    level: str,
    item: Item,
    settings: Mapping[str, Any],
    locks: Mapping[str, Any] | None,
    inherited_locks: Mapping[str, bool] | None,
) -> Check:
    paths = item.paths[level]
    present = [p for p in paths if has_path(settings, p)]
    wrong = [p for p in present if not _as_desired(item, get_path(settings, p))]
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
    # Only the account must hold the lock, where Zoom offers one: below it, a right value is
    # enough.
    lock_ok = locked is True if level == ACCOUNT and own_lock_paths else True
    return Check(item.id, shown, item.desired, actual, locked, value_ok, lock_ok)


def _pmi_check(settings: Mapping[str, Any]) -> Check | None:
    """The user's PMI room has a passcode; None when the PMI is off or Zoom does not say."""
    if get_path(settings, PERSONAL_MEETING_PATH) is False:
        return None
    if not has_path(settings, PMI_PASSCODE_PATH):
        return None
    value = get_path(settings, PMI_PASSCODE_PATH)
    has_passcode = isinstance(value, str) and value != ""
    actual: JSONScalar = SECRET_SET if has_passcode else ("" if value == "" else None)
    return Check(
        BASELINE_PMI_PASSCODE, PMI_PASSCODE_PATH, SECRET_SET, actual, None, has_passcode, True
    )


def data_center_regions(settings: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The account's data-centre regions, or None when Zoom's answer does not say."""
    value = get_path(settings, DATA_CENTER_REGIONS_PATH)
    if not isinstance(value, list):
        return None
    return tuple(str(region) for region in value)


def _as_desired(item: Item, value: Any) -> bool:
    if item.includes:
        return isinstance(value, list) and item.desired in value
    return bool(value == item.desired)


def _scalar(value: Any) -> JSONScalar:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)  # e.g. data-centre regions: "US, CA"
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


# Outcomes after the fix ---------------------------------------------------------------------------


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
        elif check.item.portal is not None:
            status = REPORTED
            detail = f"Zoom's API cannot set this; in Zoom's web portal: {check.item.portal}"
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

"""Zoom's settings hierarchy: account → group → user, with lock_settings.

Zoom keeps one logical setting under different paths at different levels: the waiting room is
``meeting_security.waiting_room`` on the account but ``in_meeting.waiting_room`` on a user or
group, and a lock is always a boolean even where the setting is a string. ``SETTINGS`` names each
logical setting once, with its paths per level, so inheritance and locks are computed on logical
names and only rendering and parsing know the paths. Every path here is one the OpenAPI documents
define for that level (checked by the conformance tests).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from zoomguard.sandbox.passcodes import REQUIREMENT_DEFAULTS, requirement_problem

ACCOUNT = "account"
GROUP = "group"
USER = "user"
ACCOUNT_LOCK = "account_lock"
GROUP_LOCK = "group_lock"
LEVELS = (ACCOUNT, GROUP, USER, ACCOUNT_LOCK, GROUP_LOCK)

# Sections returned without ?option; meeting_security only with ?option=meeting_security and the
# authentication pair only with ?option=meeting_authentication.
PLAIN_SECTIONS = ("schedule_meeting", "in_meeting", "recording")
OPTION_SECTIONS = {"meeting_security": "meeting_security", "meeting_authentication": "$auth"}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    paths: Mapping[str, tuple[str, ...]]


def _setting(name: str, default: Any, **paths: tuple[str, ...]) -> Setting:
    return Setting(name, default, paths)


_SM = "schedule_meeting."
_IM = "in_meeting."
_RC = "recording."
_MS = "meeting_security."

SETTINGS: tuple[Setting, ...] = (
    _setting(
        "require_password_for_scheduling_new_meetings",
        True,
        account=(_SM + "require_password_for_scheduling_new_meetings", _MS + "meeting_password"),
        group=(_SM + "require_password_for_scheduling_new_meetings", _MS + "meeting_password"),
        user=(_SM + "require_password_for_scheduling_new_meetings", _MS + "meeting_password"),
        account_lock=(
            _SM + "require_password_for_scheduling_new_meetings",
            _MS + "meeting_password",
        ),
        group_lock=(
            _SM + "require_password_for_scheduling_new_meetings",
            _MS + "meeting_password",
        ),
    ),
    _setting(
        "require_password_for_instant_meetings",
        True,
        account=(_SM + "require_password_for_instant_meetings",),
        group=(_SM + "require_password_for_instant_meetings",),
        user=(_SM + "require_password_for_instant_meetings",),
        account_lock=(_SM + "require_password_for_instant_meetings",),
        group_lock=(_SM + "require_password_for_instant_meetings",),
    ),
    _setting(
        "require_password_for_pmi_meetings",
        "all",
        account=(_SM + "require_password_for_pmi_meetings",),
        group=(_SM + "require_password_for_pmi_meetings",),
        user=(_SM + "require_password_for_pmi_meetings",),
        account_lock=(_SM + "require_password_for_pmi_meetings",),
        group_lock=(_SM + "require_password_for_pmi_meetings",),
    ),
    _setting(
        "embed_password_in_join_link",
        False,
        account=(_MS + "embed_password_in_join_link",),
        group=(_SM + "embed_password_in_join_link", _MS + "embed_password_in_join_link"),
        user=(_SM + "embed_password_in_join_link", _MS + "embed_password_in_join_link"),
        account_lock=(_SM + "embed_password_in_join_link", _MS + "embed_password_in_join_link"),
        group_lock=(_SM + "embed_password_in_join_link", _MS + "embed_password_in_join_link"),
    ),
    _setting(
        "meeting_password_requirement",
        REQUIREMENT_DEFAULTS,
        account=(_SM + "meeting_password_requirement", _MS + "meeting_password_requirement"),
        group=(_MS + "meeting_password_requirement",),
        user=(_SM + "meeting_password_requirement", _MS + "meeting_password_requirement"),
    ),
    _setting(
        "join_before_host",
        False,
        account=(_SM + "join_before_host",),
        group=(_SM + "join_before_host",),
        user=(_SM + "join_before_host",),
        account_lock=(_SM + "join_before_host",),
        group_lock=(_SM + "join_before_host",),
    ),
    _setting("jbh_time", 0, account=(_SM + "jbh_time",)),
    _setting(
        "meeting_authentication",
        False,
        account=("$auth.meeting_authentication",),
        group=("$auth.meeting_authentication",),
        user=("$auth.meeting_authentication",),
        account_lock=(_SM + "meeting_authentication",),
        group_lock=(_SM + "meeting_authentication",),
    ),
    _setting(
        "waiting_room",
        True,
        account=(_MS + "waiting_room",),
        group=(_IM + "waiting_room", _MS + "waiting_room"),
        user=(_IM + "waiting_room", _MS + "waiting_room"),
        account_lock=(_MS + "waiting_room",),
        group_lock=(_IM + "waiting_room", _MS + "waiting_room"),
    ),
    # Whom the waiting room holds in a meeting whose waiting_room_options follow the setting:
    # 0 everyone (Zoom's default), 1 users not in the account, 2 those and not in the allowed
    # domains.
    _setting(
        "participants_to_place_in_waiting_room",
        0,
        account=(_MS + "waiting_room_settings.participants_to_place_in_waiting_room",),
        group=(_MS + "waiting_room_settings.participants_to_place_in_waiting_room",),
        user=(_MS + "waiting_room_settings.participants_to_place_in_waiting_room",),
    ),
    _setting(
        "file_transfer",
        True,
        account=(_IM + "file_transfer",),
        group=(_IM + "file_transfer",),
        user=(_IM + "file_transfer",),
        account_lock=(_IM + "file_transfer",),
        group_lock=(_IM + "file_transfer",),
    ),
    _setting(
        "custom_data_center_regions",
        False,
        account=(_IM + "custom_data_center_regions",),
        group=(_IM + "custom_data_center_regions",),
        user=(_IM + "custom_data_center_regions",),
        account_lock=(_IM + "custom_data_center_regions",),
        group_lock=(_IM + "custom_data_center_regions",),
    ),
    _setting(
        "data_center_regions",
        [],
        account=(_IM + "data_center_regions",),
        group=(_IM + "data_center_regions",),
        user=(_IM + "data_center_regions",),
    ),
    # Records of a meeting other than its recording, with Zoom's defaults for a paid account.
    _setting(
        "allow_live_streaming",
        False,
        account=(_IM + "allow_live_streaming",),
        group=(_IM + "allow_live_streaming",),
        user=(_IM + "allow_live_streaming",),
        account_lock=(_IM + "allow_live_streaming",),
        group_lock=(_IM + "allow_live_streaming",),
    ),
    _setting(
        "save_caption",
        True,
        account=(_IM + "closed_captioning.save_caption",),
        group=(_IM + "closed_captioning.save_caption",),
        user=(_IM + "closed_captioning.save_caption",),
        account_lock=(_IM + "save_caption",),
        group_lock=(_IM + "save_caption",),
    ),
    _setting(
        "allow_users_save_chats",
        2,  # host and co-hosts' messages (1: no one, 3: everyone)
        account=(_IM + "allow_users_save_chats",),
        group=(_IM + "allow_users_save_chats",),
        user=(_IM + "allow_users_save_chats",),
    ),
    # The AI Companion switches: readable on the account and a user, settable in the portal only.
    _setting(
        "meeting_summary_with_ai_companion",
        True,
        account=(_IM + "meeting_summary_with_ai_companion.enable",),
        user=(_IM + "meeting_summary_with_ai_companion.enable",),
    ),
    _setting(
        "ai_companion_questions",
        True,
        account=(_IM + "ai_companion_questions.enable",),
        user=(_IM + "ai_companion_questions.enable",),
    ),
    *(
        _setting(
            switch,
            False,
            account=(_RC + "smart_recording." + switch,),
            group=(_RC + "smart_recording." + switch,),
            user=(_RC + "smart_recording." + switch,),
        )
        for switch in ("create_recording_highlights", "create_smart_chapters", "create_next_steps")
    ),
    _setting(
        "archive",
        False,
        account=(_RC + "archive.enable",),
        group=(_RC + "archive.enable",),
        account_lock=(_RC + "archive",),
        group_lock=(_RC + "archive",),
    ),
    _setting(
        "local_recording",
        True,
        account=(_RC + "local_recording",),
        group=(_RC + "local_recording",),
        user=(_RC + "local_recording",),
        account_lock=(_RC + "local_recording",),
        group_lock=(_RC + "local_recording",),
    ),
    _setting(
        "cloud_recording",
        True,
        account=(_RC + "cloud_recording",),
        group=(_RC + "cloud_recording",),
        user=(_RC + "cloud_recording",),
        account_lock=(_RC + "cloud_recording",),
        group_lock=(_RC + "cloud_recording",),
    ),
    _setting(
        "auto_recording",
        "none",
        account=(_RC + "auto_recording",),
        group=(_RC + "auto_recording",),
        user=(_RC + "auto_recording",),
        account_lock=(_RC + "auto_recording",),
        group_lock=(_RC + "auto_recording",),
    ),
    _setting(
        "auto_delete_cmr",
        False,
        account=(_RC + "auto_delete_cmr",),
        user=(_RC + "auto_delete_cmr",),
        account_lock=(_RC + "auto_delete_cmr",),
        group_lock=(_RC + "auto_delete_cmr",),
    ),
    _setting(
        "auto_delete_cmr_days",
        30,
        account=(_RC + "auto_delete_cmr_days",),
        user=(_RC + "auto_delete_cmr_days",),
    ),
    _setting(
        "auto_security",
        True,
        account=(_MS + "auto_security",),
        group=(_MS + "auto_security",),
        user=(_MS + "auto_security",),
        account_lock=(_MS + "auto_security",),
        group_lock=(_MS + "auto_security",),
    ),
    _setting(
        "encryption_type",
        "enhanced_encryption",
        account=(_MS + "encryption_type",),
        group=(_MS + "encryption_type",),
        user=(_MS + "encryption_type",),
        account_lock=(_MS + "encryption_type",),
        group_lock=(_MS + "encryption_type",),
    ),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# (level, "section.key") -> logical name, for parsing PATCH bodies
_BY_PATH: dict[tuple[str, str], str] = {
    (level, path): s.name for s in SETTINGS for level, paths in s.paths.items() for path in paths
}

ENUMS: dict[str, tuple[Any, ...]] = {
    "auto_recording": ("local", "cloud", "none"),
    "require_password_for_pmi_meetings": ("jbh_only", "all", "none"),
    "encryption_type": ("enhanced_encryption", "e2ee"),
    "jbh_time": (0, 5, 10, 15),
    "participants_to_place_in_waiting_room": (0, 1, 2),
    "auto_delete_cmr_days": (30, 60, 90, 120),
}


def default_values() -> dict[str, Any]:
    return {s.name: copy.deepcopy(s.default) for s in SETTINGS}


def names_at(level: str) -> list[str]:
    return [s.name for s in SETTINGS if level in s.paths]


class SettingsError(ValueError):
    """A PATCH body Zoom would reject (code 300); ``field`` names the offending path."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(message)
        self.field = field_path


def render(level: str, values: Mapping[str, Any], option: str | None) -> dict[str, Any]:
    """The settings object Zoom returns at ``level`` for ``?option=``."""
    wanted = OPTION_SECTIONS.get(option or "")
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        for path in setting.paths.get(level, ()):
            section, key = path.split(".", 1)
            if wanted is None and section not in PLAIN_SECTIONS:
                continue
            if wanted is not None and section != wanted:
                continue
            value = copy.deepcopy(values[setting.name])
            node = out if section == "$auth" else out.setdefault(section, {})
            *parents, leaf = key.split(".")  # e.g. closed_captioning.save_caption
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    if wanted == "$auth":
        out["authentication_options"] = []
    return out


def parse_patch(level: str, body: Mapping[str, Any], *, locks: bool = False) -> dict[str, Any]:
    """Logical name -> new value from a settings (or lock_settings) PATCH body.

    Unknown keys are ignored, as Zoom ignores fields it does not manage; known keys with the
    wrong type raise ``SettingsError``.
    """
    changes: dict[str, Any] = {}
    for section, content in body.items():
        if section in ("meeting_authentication", "authentication_options"):
            key = (level, f"$auth.{section}")
            if key in _BY_PATH:
                changes[_BY_PATH[key]] = _check(_BY_PATH[key], section, content, locks)
            continue
        if not isinstance(content, Mapping):
            continue
        for path, value in _members(level, section, content):
            name = _BY_PATH[(level, path)]
            changes[name] = _check(name, path, value, locks)
    return changes


def _members(level: str, prefix: str, content: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(path, value) of each known setting in ``content``, nested objects included
    (``recording.smart_recording.create_next_steps``); unknown keys are left out."""
    found: list[tuple[str, Any]] = []
    for key, value in content.items():
        path = f"{prefix}.{key}"
        if (level, path) in _BY_PATH:
            found.append((path, value))
        elif isinstance(value, Mapping):
            found.extend(_members(level, path, value))
    return found


def _check(name: str, path: str, value: Any, locks: bool) -> Any:
    if locks:
        if not isinstance(value, bool):
            raise SettingsError(path, f"Invalid field: {path} must be a boolean.")
        return value
    default = BY_NAME[name].default
    if isinstance(default, dict):
        problem = requirement_problem(path, value)
        if problem is not None:
            raise SettingsError(path, problem)
        # The fields a PATCH leaves out keep the values of an account with no requirement.
        return {**copy.deepcopy(default), **copy.deepcopy(value)}
    expected: type | tuple[type, ...]
    if isinstance(default, bool):
        expected = bool
    elif isinstance(default, int):
        expected = int
    elif isinstance(default, list):
        expected = list
    else:
        expected = str
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise SettingsError(path, f"Invalid field: {path}.")
    if name in ENUMS and value not in ENUMS[name]:
        raise SettingsError(path, f"Invalid field: {path}.")
    return copy.deepcopy(value)


@dataclass
class SettingsTree:
    """Account settings and locks, per-group and per-user overrides and group locks."""

    account: dict[str, Any] = field(default_factory=default_values)
    account_locks: dict[str, bool] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_locks: dict[str, dict[str, bool]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- reading -----------------------------------------------------------------------------

    def locked(self, name: str, group_id: str | None = None) -> bool:
        if self.account_locks.get(name, False):
            return True
        return bool(group_id and self.group_locks.get(group_id, {}).get(name, False))

    def group_value(self, group_id: str, name: str) -> Any:
        if self.account_locks.get(name, False):
            return self.account[name]
        return self.groups.get(group_id, {}).get(name, self.account[name])

    def user_value(self, user_id: str, group_id: str | None, name: str) -> Any:
        if self.account_locks.get(name, False):
            return self.account[name]
        if group_id is not None and self.group_locks.get(group_id, {}).get(name, False):
            return self.group_value(group_id, name)
        overrides = self.users.get(user_id, {})
        if name in overrides:
            return overrides[name]
        if group_id is not None:
            return self.group_value(group_id, name)
        return self.account[name]

    def account_values(self) -> dict[str, Any]:
        return dict(self.account)

    def group_values(self, group_id: str) -> dict[str, Any]:
        return {name: self.group_value(group_id, name) for name in BY_NAME}

    def user_values(self, user_id: str, group_id: str | None) -> dict[str, Any]:
        return {name: self.user_value(user_id, group_id, name) for name in BY_NAME}

    def account_lock_values(self) -> dict[str, bool]:
        return {name: self.account_locks.get(name, False) for name in BY_NAME}

    def group_lock_values(self, group_id: str) -> dict[str, bool]:
        own = self.group_locks.get(group_id, {})
        return {
            name: self.account_locks.get(name, False) or own.get(name, False) for name in BY_NAME
        }

    # -- writing (locks win: a locked value is left as it is) -------------------------------

    def patch_account(self, changes: Mapping[str, Any]) -> None:
        self.account.update(changes)

    def patch_group(self, group_id: str, changes: Mapping[str, Any]) -> list[str]:
        applied = [n for n in changes if not self.account_locks.get(n, False)]
        self.groups.setdefault(group_id, {}).update({n: changes[n] for n in applied})
        return applied

    def patch_user(
        self, user_id: str, group_id: str | None, changes: Mapping[str, Any]
    ) -> list[str]:
        applied = [n for n in changes if not self.locked(n, group_id)]
        self.users.setdefault(user_id, {}).update({n: changes[n] for n in applied})
        return applied

    def patch_account_locks(self, changes: Mapping[str, bool]) -> None:
        self.account_locks.update(changes)

    def patch_group_locks(self, group_id: str, changes: Mapping[str, bool]) -> None:
        self.group_locks.setdefault(group_id, {}).update(changes)


def enforce_meeting(
    settings: dict[str, Any],
    password: str,
    tree: SettingsTree,
    host_id: str,
    group_id: str | None,
    *,
    previous_password: str,
    make_password: Callable[[], str],
    touched: Collection[str] | None = None,
) -> tuple[dict[str, Any], str]:
    """Apply what Zoom enforces on a meeting after a create or PATCH.

    Returns the (possibly changed) settings and password: locked account or group settings win
    over what the request asked for (``touched``: the settings and "password" it set; None for
    a create, which asks for everything); a recording type the host may not use falls back to
    "none"; and with "require that all meetings are secured" on, a meeting left with no
    passcode, no waiting room and no authentication gets its waiting room switched back on.
    """
    out = dict(settings)

    def asked(name: str) -> bool:
        return touched is None or name in touched

    def value(name: str) -> Any:
        return tree.user_value(host_id, group_id, name)

    for name in ("waiting_room", "join_before_host", "meeting_authentication", "auto_recording"):
        if asked(name) and tree.locked(name, group_id):
            out[name] = value(name)
    if asked("auto_recording"):
        if out.get("auto_recording") == "cloud" and not value("cloud_recording"):
            out["auto_recording"] = "none"
        if out.get("auto_recording") == "local" and not value("local_recording"):
            out["auto_recording"] = "none"
    if (
        asked("password")
        and not password
        and tree.locked("require_password_for_scheduling_new_meetings", group_id)
        and value("require_password_for_scheduling_new_meetings")
    ):
        password = previous_password or make_password()
    if (
        value("auto_security")
        and not password
        and not out.get("waiting_room", False)
        and not out.get("meeting_authentication", False)
    ):
        out["waiting_room"] = True
    return out, password

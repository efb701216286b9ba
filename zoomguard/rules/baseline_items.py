"""The account baseline's settings: each declared once, with where Zoom keeps it at each level.

The baseline names each account setting zoomguard sets to the guidance's value and locks, so
that groups and users cannot change them, with the paths Zoom uses for it at each level:
Zoom files one setting under different paths at different levels (the waiting room is
``meeting_security.waiting_room`` on the account but ``in_meeting.waiting_room`` on a group or
user), and a lock is always a boolean, even where the setting is a string (``auto_recording``).
Every path here is one Zoom's OpenAPI documents define for that level.

``ITEMS`` is the one table: the ``[baseline]`` keys of a policy file and their defaults, the
report order, and ``zoomguard/policies/default.toml`` are derived from it. Each item id is
named after the Zoom setting it governs; ``true`` in a policy file means "zoomguard keeps it at
the baseline value", never "the Zoom feature is on".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from zoomguard.rules import guidance_quotes as quotes
from zoomguard.rules.rule_types import JSONScalar

Level = Literal["account", "group", "user"]
ACCOUNT: Final = "account"
GROUP: Final = "group"
USER: Final = "user"

RULE_PREFIX: Final = "baseline."

# Zoom returns this section only for GET ...?option=meeting_security, and takes it in a PATCH
# sent with the same option; every other section is read and written without an option.
MEETING_SECURITY: Final = "meeting_security"

SECRET_SET: Final = "(set)"  # noqa: S105 - how a passcode is shown, not a passcode

PMI_PASSCODE_PATH: Final = "schedule_meeting.pmi_password"
PERSONAL_MEETING_PATH: Final = "schedule_meeting.personal_meeting"

BASELINE_PASSCODE_NEW_MEETINGS: Final = "passcode_new_meetings"
BASELINE_PASSCODE_INSTANT_MEETINGS: Final = "passcode_instant_meetings"
BASELINE_PASSCODE_PMI_MEETINGS: Final = "passcode_pmi_meetings"
BASELINE_PASSCODE_IN_JOIN_LINK: Final = "passcode_in_join_link"
BASELINE_WAITING_ROOM: Final = "waiting_room"
BASELINE_JOIN_BEFORE_HOST: Final = "join_before_host"
BASELINE_LOCAL_RECORDING: Final = "local_recording"
BASELINE_CLOUD_RECORDING: Final = "cloud_recording"
BASELINE_AUTO_RECORDING: Final = "auto_recording"
BASELINE_FILE_TRANSFER: Final = "file_transfer"
# A user's Personal Meeting ID room has a passcode (the PMI counts as a meeting). Not lockable.
BASELINE_PMI_PASSCODE: Final = "pmi_passcode"


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
    default: bool = True  # kept by the built-in profile (a policy file may switch it off)

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
    *,
    default: bool = True,
) -> Item:
    return Item(
        item_id,
        title,
        guidance,
        desired,
        MappingProxyType(dict(paths)),
        MappingProxyType(dict(lock_paths)),
        default,
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
                quotes.PASSCODE_TO_ACCESS,
                True,
                _everywhere(_SM + "require_password_for_scheduling_new_meetings"),
                _locks(_SM + "require_password_for_scheduling_new_meetings"),
            ),
            _item(
                BASELINE_PASSCODE_INSTANT_MEETINGS,
                "Instant meetings require a passcode",
                quotes.PASSCODE_TO_ACCESS,
                True,
                _everywhere(_SM + "require_password_for_instant_meetings"),
                _locks(_SM + "require_password_for_instant_meetings"),
            ),
            _item(
                BASELINE_PASSCODE_PMI_MEETINGS,
                "Personal Meeting ID (PMI) meetings require a passcode",
                quotes.PASSCODE_TO_ACCESS,
                "all",
                _everywhere(_SM + "require_password_for_pmi_meetings"),
                _locks(_SM + "require_password_for_pmi_meetings"),
            ),
            _item(
                BASELINE_PASSCODE_IN_JOIN_LINK,
                "The passcode is not embedded in the join link",
                quotes.PASSCODE_SENT_SEPARATELY,
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
                quotes.PARTICIPANTS_IDENTIFIED,
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
                quotes.NO_ONE_BEFORE_HOST,
                False,
                _everywhere(_SM + "join_before_host"),
                _locks(_SM + "join_before_host"),
            ),
            _item(
                BASELINE_LOCAL_RECORDING,
                "Local recording is off",
                quotes.NOT_RECORDED,
                False,
                _everywhere(_RC + "local_recording"),
                _locks(_RC + "local_recording"),
            ),
            _item(
                BASELINE_CLOUD_RECORDING,
                "Cloud recording is off",
                quotes.NOT_RECORDED,
                False,
                _everywhere(_RC + "cloud_recording"),
                _locks(_RC + "cloud_recording"),
            ),
            _item(
                BASELINE_AUTO_RECORDING,
                "Meetings are never recorded automatically",
                quotes.NOT_RECORDED,
                "none",
                _everywhere(_RC + "auto_recording"),
                _locks(_RC + "auto_recording"),
            ),
            _item(
                BASELINE_FILE_TRANSFER,
                "File transfer in meeting chat is off",
                quotes.NO_FILES_TRANSFERRED,
                False,
                _everywhere(_IM + "file_transfer"),
                _locks(_IM + "file_transfer"),
            ),
            _item(
                BASELINE_PMI_PASSCODE,
                "The user's Personal Meeting ID room has a passcode",
                quotes.PASSCODE_TO_ACCESS,
                SECRET_SET,
                {USER: (PMI_PASSCODE_PATH,)},
                {},
            ),
        )
    }
)

# Every item a policy file's [baseline] table may switch, in report order, with its default.
BASELINE_DEFAULTS: Final[Mapping[str, bool]] = MappingProxyType(
    {item.id: item.default for item in ITEMS.values()}
)
DEFAULT_BASELINE_ITEMS: Final[frozenset[str]] = frozenset(
    item.id for item in ITEMS.values() if item.default
)

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

from zoomguard.masking import PASSCODE_SET
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

SECRET_SET: Final = PASSCODE_SET  # how a passcode is shown, never the passcode

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
# Records of a meeting other than its recording (issue #15).
BASELINE_LIVE_STREAMING: Final = "live_streaming"
BASELINE_SMART_RECORDING: Final = "smart_recording"
BASELINE_ARCHIVING: Final = "archiving"
BASELINE_SAVE_CAPTIONS: Final = "save_captions"
BASELINE_SAVE_CHATS: Final = "save_chats"
# Zoom documents no PATCH field for these: reported for a person, with the place in the portal.
BASELINE_AI_MEETING_SUMMARY: Final = "ai_meeting_summary"
BASELINE_AI_QUESTIONS: Final = "ai_companion_questions"
# Off by default: the account's data-centre regions must include Canada's.
BASELINE_CANADA_REGION: Final = "canada_data_center"

DATA_CENTER_REGIONS_PATH: Final = "in_meeting.data_center_regions"
CANADA_REGION: Final = "CA"
# allow_users_save_chats: 1 "Participants cannot save meeting chats" (2 host only, 3 everyone).
CHATS_CANNOT_BE_SAVED: Final = 1


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
    # Where a person sets it in Zoom's web portal, for a setting zoomguard cannot set through the
    # API: the baseline then reports it and never sends a PATCH for it.
    portal: str | None = None
    # The setting is a list that must include ``desired`` (rather than equal it).
    includes: bool = False

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
    portal: str | None = None,
    includes: bool = False,
) -> Item:
    return Item(
        item_id,
        title,
        guidance,
        desired,
        MappingProxyType(dict(paths)),
        MappingProxyType(dict(lock_paths)),
        default,
        portal,
        includes,
    )


def _account_only(path: str) -> dict[str, tuple[str, ...]]:
    return {ACCOUNT: (path,)}


# Smart recording is three switches; all three are off when it is off.
_SMART_RECORDING_PATHS: Final = tuple(
    f"{_RC}smart_recording.{switch}"
    for switch in ("create_recording_highlights", "create_smart_chapters", "create_next_steps")
)
# The account's settings page in Zoom's web portal, where the settings below live.
_PORTAL_SETTINGS = "Admin > Account Management > Account Settings"


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
                BASELINE_LIVE_STREAMING,
                "Meetings cannot be live streamed",
                quotes.NOT_RECORDED,
                False,
                _everywhere(_IM + "allow_live_streaming"),
                _locks(_IM + "allow_live_streaming"),
            ),
            _item(
                BASELINE_SMART_RECORDING,
                "Recordings get no AI highlights, chapters or next steps (smart recording off)",
                quotes.NOT_RECORDED,
                False,
                {level: _SMART_RECORDING_PATHS for level in (ACCOUNT, GROUP, USER)},
                {},  # Zoom offers no lock for smart recording
            ),
            _item(
                BASELINE_ARCHIVING,
                "Meetings are not archived to a third-party archiving service",
                quotes.NOT_RECORDED,
                False,
                {ACCOUNT: (_RC + "archive.enable",), GROUP: (_RC + "archive.enable",)},
                _locks(_RC + "archive"),
            ),
            _item(
                BASELINE_SAVE_CAPTIONS,
                "Participants cannot save captions or transcripts",
                quotes.NOT_RECORDED,
                False,
                _everywhere(_IM + "closed_captioning.save_caption"),
                _locks(_IM + "save_caption"),
            ),
            _item(
                BASELINE_SAVE_CHATS,
                "Participants cannot save the meeting chat",
                quotes.NOT_RECORDED,
                CHATS_CANNOT_BE_SAVED,
                _everywhere(_IM + "allow_users_save_chats"),
                {},  # Zoom offers no lock for it
            ),
            _item(
                BASELINE_AI_MEETING_SUMMARY,
                "AI Companion cannot write meeting summaries",
                quotes.NOT_RECORDED,
                False,
                _account_only(_IM + "meeting_summary_with_ai_companion.enable"),
                {},
                portal=f"{_PORTAL_SETTINGS} > AI Companion > Meeting summary with AI Companion: "
                "turn it off, then click the lock icon",
            ),
            _item(
                BASELINE_AI_QUESTIONS,
                "AI Companion cannot answer questions about a meeting (it would transcribe it)",
                quotes.NOT_RECORDED,
                False,
                _account_only(_IM + "ai_companion_questions.enable"),
                {},
                portal=f"{_PORTAL_SETTINGS} > AI Companion > Allow users to ask AI Companion "
                "questions about the meeting: turn it off, then click the lock icon",
            ),
            _item(
                BASELINE_CANADA_REGION,
                "Meetings may use Canada's data centre",
                quotes.STORED_OUTSIDE_CANADA,
                CANADA_REGION,
                _account_only(DATA_CENTER_REGIONS_PATH),
                {},
                default=False,
                portal=f"{_PORTAL_SETTINGS} > Meeting > In Meeting (Advanced) > Select data "
                "center regions for meetings/webinars hosted by your account: tick Canada",
                includes=True,
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

"""A deterministic account: users, groups, settings and meetings from a seed.

A chosen share of the meetings is made noncompliant in chosen ways; which meeting got which
defect is kept in ``state.noncompliance`` as ground truth for tests and benchmarks. Defects are
combined only in ways Zoom allows: a meeting never loses both its passcode and its waiting room,
because Zoom's forced-security rule would switch the waiting room back on.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoomguard.sandbox.state import SandboxState

NO_PASSCODE = "no_passcode"
WAITING_ROOM_OFF = "waiting_room_off"
JOIN_BEFORE_HOST = "join_before_host"
AUTO_RECORDING_CLOUD = "auto_recording_cloud"
AUTO_RECORDING_LOCAL = "auto_recording_local"
IDENTIFYING_TOPIC = "identifying_topic"
NONCOMPLIANT_KINDS = (
    NO_PASSCODE,
    WAITING_ROOM_OFF,
    JOIN_BEFORE_HOST,
    AUTO_RECORDING_CLOUD,
    AUTO_RECORDING_LOCAL,
    IDENTIFYING_TOPIC,
)
_INCOMPATIBLE = {
    frozenset({NO_PASSCODE, WAITING_ROOM_OFF}),
    frozenset({AUTO_RECORDING_CLOUD, AUTO_RECORDING_LOCAL}),
}

FIRST_NAMES = (
    "Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kai", "Logan",
    "Morgan", "Noor", "Parker", "Quinn", "Riley", "Sage", "Taylor", "Wren",
)  # fmt: skip
LAST_NAMES = (
    "Nguyen", "Singh", "Tremblay", "Roy", "Gagnon", "Lee", "Wilson", "Martin", "Chen", "Brown",
    "Thomas", "Campbell", "Patel", "Anderson", "Li", "Walker",
)  # fmt: skip
NEUTRAL_TOPICS = (
    "Team check-in", "Service planning", "Weekly huddle", "Budget review", "Program update",
    "Training session", "Community partners call", "Quality review", "Staff meeting",
    "Scheduling sync", "Policy working group", "Intake team stand-up",
)  # fmt: skip
AGENDAS = (
    "",
    "Review open items and next steps.",
    "Updates from each program area.",
    "Walk through the new scheduling process.",
)
TIMEZONES = ("America/Vancouver", "America/Edmonton", "America/Toronto", "UTC")


def luhn_check_digit(digits: str) -> int:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: these sit in even positions once the check digit is added
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def make_sin(rng: random.Random) -> str:
    """A Luhn-valid Canadian SIN, formatted "123 456 782" (first digit never 0 or 8)."""
    body = str(rng.choice((1, 2, 3, 4, 5, 6, 7, 9))) + "".join(
        str(rng.randrange(10)) for _ in range(7)
    )
    number = body + str(luhn_check_digit(body))
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def identifying_topic(rng: random.Random) -> str:
    variant = rng.randrange(3)
    if variant == 0:
        return f"Benefits intake, SIN {make_sin(rng)}"
    if variant == 1:
        born = datetime(1950, 1, 1) + timedelta(days=rng.randrange(365 * 60))
        return f"Support plan review (DOB {born:%Y-%m-%d})"
    return f"Case conference: {rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _pick_kinds(rng: random.Random, kinds: Sequence[str]) -> tuple[str, ...]:
    first = rng.choice(list(kinds))
    if rng.random() < 0.3:
        others = [k for k in kinds if k != first and frozenset({first, k}) not in _INCOMPATIBLE]
        if others:
            return tuple(sorted((first, rng.choice(others))))
    return (first,)


def _uuid(rng: random.Random, index: int) -> str:
    raw = base64.b64encode(rng.randbytes(16)).decode()
    # Make sure UUIDs that need double encoding exist (as they do at Zoom).
    if index == 0:
        return "/" + raw[1:]
    if index == 1:
        return raw[:5] + "//" + raw[7:]
    return raw


def _password(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 10)))


def default_now() -> datetime:
    """Today at 00:00 UTC: the same data all day for the same seed."""
    today = datetime.now(UTC).date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC)


def populate(
    state: SandboxState,
    *,
    seed: int,
    users: int,
    meetings: int,
    noncompliant_share: float,
    kinds: Sequence[str] = NONCOMPLIANT_KINDS,
    recurring_share: float = 0.1,
    now: datetime | None = None,
) -> None:
    """Fill ``state`` with a deterministic account (same seed, same ``now``: same data)."""
    rng = random.Random(seed)
    base = now or default_now()
    unknown = set(kinds) - set(NONCOMPLIANT_KINDS)
    if unknown:
        raise ValueError(f"unknown noncompliance kinds: {sorted(unknown)}")
    if meetings and not users:
        users = 1
    with state.lock:
        _account_settings(state)
        group_ids = _groups(state, rng) if users >= 2 else []
        user_ids = _users(state, rng, users, group_ids, base)
        bad = set(rng.sample(range(meetings), round(meetings * noncompliant_share)))
        for index in range(meetings):
            _meeting(state, rng, index, user_ids, base, index in bad, kinds, recurring_share)


def _account_settings(state: SandboxState) -> None:
    # A typical agency account before zoomguard: passcodes and waiting room on, but file transfer,
    # cloud recording and passcodes embedded in links still allowed; forced security locked on.
    state.settings.patch_account(
        {
            "require_password_for_scheduling_new_meetings": True,
            "waiting_room": True,
            "join_before_host": False,
            "embed_password_in_join_link": True,
            "file_transfer": True,
            "cloud_recording": True,
            "local_recording": True,
            "auto_recording": "none",
            "auto_security": True,
        }
    )
    state.settings.patch_account_locks({"auto_security": True})


def _groups(state: SandboxState, rng: random.Random) -> list[str]:
    staff = state.add_group("Staff", group_id=_id(rng))
    contractors = state.add_group("Contractors", group_id=_id(rng))
    state.settings.patch_group(
        contractors["id"], {"file_transfer": False, "join_before_host": False}
    )
    state.settings.patch_group_locks(contractors["id"], {"file_transfer": True})
    return [staff["id"], contractors["id"]]


def _id(rng: random.Random) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("=")


def _users(
    state: SandboxState, rng: random.Random, count: int, group_ids: list[str], base: datetime
) -> list[str]:
    ids = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        group = None
        if index > 0 and group_ids:
            roll = rng.random()
            group = group_ids[0] if roll < 0.4 else group_ids[1] if roll < 0.6 else None
        user = state.add_user(
            f"{first}.{last}.{index + 1}@example.org".lower(),
            first_name=first,
            last_name=last,
            user_id=_id(rng),
            group_id=group,
            timezone=rng.choice(TIMEZONES),
            created_at=base - timedelta(days=rng.randint(30, 900)),
        )
        overrides: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.1:
            overrides["join_before_host"] = True
        elif roll < 0.2:
            overrides["auto_recording"] = "cloud"
        elif roll < 0.3:
            overrides["waiting_room"] = False
        if overrides:
            state.settings.patch_user(user["id"], group, overrides)
        ids.append(user["id"])
    return ids


def _meeting(
    state: SandboxState,
    rng: random.Random,
    index: int,
    user_ids: list[str],
    base: datetime,
    noncompliant: bool,
    kinds: Sequence[str],
    recurring_share: float,
) -> None:
    host = user_ids[rng.randrange(len(user_ids))]
    roll = rng.random()
    meeting_type = 8 if roll < recurring_share else 3 if roll < recurring_share + 0.03 else 2
    start = base + timedelta(minutes=15 * rng.randint(-3 * 96, 60 * 96))
    settings: dict[str, Any] = {
        "waiting_room": True,
        "join_before_host": False,
        "auto_recording": "none",
        "meeting_authentication": False,
    }
    password = _password(rng)
    topic = rng.choice(NEUTRAL_TOPICS)
    chosen = _pick_kinds(rng, kinds) if noncompliant and kinds else ()
    for kind in chosen:
        if kind == NO_PASSCODE:
            password = ""
        elif kind == WAITING_ROOM_OFF:
            settings["waiting_room"] = False
        elif kind == JOIN_BEFORE_HOST:
            settings["join_before_host"] = True
            settings["jbh_time"] = rng.choice((0, 5, 10))
        elif kind == AUTO_RECORDING_CLOUD:
            settings["auto_recording"] = "cloud"
        elif kind == AUTO_RECORDING_LOCAL:
            settings["auto_recording"] = "local"
        elif kind == IDENTIFYING_TOPIC:
            topic = identifying_topic(rng)
    meeting_id = rng.randint(81_000_000_000, 99_999_999_999)
    while meeting_id in state.meetings:
        meeting_id = rng.randint(81_000_000_000, 99_999_999_999)
    state.add_meeting(
        host,
        id=meeting_id,
        uuid=_uuid(rng, index),
        topic=topic,
        type=meeting_type,
        start_time=start,
        duration=rng.choice((30, 45, 60, 90)),
        timezone=state.users[host]["timezone"],
        agenda=rng.choice(AGENDAS),
        password=password,
        settings=settings,
        created_at=start - timedelta(days=rng.randint(1, 30))
        if start < base
        else base - timedelta(days=rng.randint(1, 30)),
        occurrences=rng.randint(3, 8),
    )
    if chosen:
        state.noncompliance[meeting_id] = chosen

"""The deterministic account generator: same seed, same data; the chosen share noncompliant in
the chosen ways, and only in combinations Zoom allows."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest

from zoomguard.sandbox import SandboxConfig, SandboxState
from zoomguard.sandbox import generator as gen

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def generate(seed: int, users: int = 8, meetings: int = 120, share: float = 0.3) -> SandboxState:
    state = SandboxState(SandboxConfig(seed=seed), generate=False)
    gen.populate(
        state, seed=seed, users=users, meetings=meetings, noncompliant_share=share, now=NOW
    )
    return state


def snapshot(state: SandboxState) -> tuple[object, ...]:
    return (
        state.users,
        state.groups,
        state.meetings,
        state.noncompliance,
        state.settings.account,
        state.settings.account_locks,
        state.settings.groups,
        state.settings.group_locks,
        state.settings.users,
    )


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def test_same_seed_same_data_different_seed_different_data() -> None:
    assert snapshot(generate(5)) == snapshot(generate(5))
    assert snapshot(generate(5)) != snapshot(generate(6))


def test_config_generates_on_construction() -> None:
    state = SandboxState(SandboxConfig(users=3, meetings=10, seed=2))
    assert (len(state.users), len(state.meetings)) == (3, 10)
    assert state.owner_id == next(iter(state.users))


def test_noncompliant_share_is_exact_and_defects_are_real() -> None:
    state = generate(11, meetings=200, share=0.25)
    assert len(state.noncompliance) == 50
    seen: set[str] = set()
    for meeting_id, kinds in state.noncompliance.items():
        meeting = state.meetings[meeting_id]
        settings = meeting["settings"]
        seen |= set(kinds)
        assert not {gen.NO_PASSCODE, gen.WAITING_ROOM_OFF} <= set(kinds)
        if gen.NO_PASSCODE in kinds:
            assert meeting["password"] == ""
            assert settings["waiting_room"] is True
        if gen.WAITING_ROOM_OFF in kinds:
            assert settings["waiting_room"] is False
            assert meeting["password"]
        if gen.JOIN_BEFORE_HOST in kinds:
            assert settings["join_before_host"] is True
        if gen.AUTO_RECORDING_CLOUD in kinds:
            assert settings["auto_recording"] == "cloud"
        if gen.AUTO_RECORDING_LOCAL in kinds:
            assert settings["auto_recording"] == "local"
    assert seen == set(gen.NONCOMPLIANT_KINDS)
    for meeting_id, meeting in state.meetings.items():
        if meeting_id in state.noncompliance:
            continue
        settings = meeting["settings"]
        assert meeting["password"]
        assert settings["waiting_room"] is True
        assert settings["join_before_host"] is False
        assert settings["auto_recording"] == "none"


def test_identifying_topics_include_valid_sins() -> None:
    state = generate(3, meetings=400, share=1.0)
    topics = [
        state.meetings[mid]["topic"]
        for mid, kinds in state.noncompliance.items()
        if gen.IDENTIFYING_TOPIC in kinds
    ]
    sins = [re.sub(r"\D", "", t) for t in topics if "SIN" in t]
    assert sins
    assert all(len(s) == 9 and luhn_valid(s) and s[0] not in "08" for s in sins)
    assert any("DOB" in t for t in topics)
    assert gen.make_sin(random.Random(0)).count(" ") == 2
    assert luhn_valid("046454286")  # the textbook example


def test_chosen_kinds_only_and_recurring_meetings_have_occurrences() -> None:
    state = SandboxState(SandboxConfig(seed=4), generate=False)
    gen.populate(
        state,
        seed=4,
        users=3,
        meetings=100,
        noncompliant_share=0.5,
        kinds=(gen.JOIN_BEFORE_HOST,),
        recurring_share=0.3,
        now=NOW,
    )
    assert {k for kinds in state.noncompliance.values() for k in kinds} == {gen.JOIN_BEFORE_HOST}
    recurring = [m for m in state.meetings.values() if m["type"] == 8]
    assert recurring
    assert all(len(m["occurrences"]) >= 3 and m["recurrence"] for m in recurring)
    with pytest.raises(ValueError, match="unknown"):
        gen.populate(state, seed=1, users=1, meetings=1, noncompliant_share=1, kinds=("nope",))


def test_account_groups_and_user_settings() -> None:
    state = generate(9, users=30, meetings=0)
    assert [g["name"] for g in state.groups.values()] == ["Staff", "Contractors"]
    assert sum(g["total_members"] for g in state.groups.values()) > 0
    assert state.settings.account_locks["auto_security"] is True
    assert state.settings.users, "some users override their settings"
    contractors = next(g for g in state.groups.values() if g["name"] == "Contractors")
    assert state.settings.group_locks[contractors["id"]]["file_transfer"] is True


def test_generates_ten_thousand_meetings() -> None:
    # How fast it generates is the benchmarks' business (no timed unit tests): here, that it can.
    state = generate(1, users=50, meetings=10_000)
    assert len(state.meetings) == 10_000
    assert len({m["id"] for m in state.meetings.values()}) == 10_000

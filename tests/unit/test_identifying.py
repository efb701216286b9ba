"""Identifying information: each detector, redaction, the policy's finding, and the targets of
issue #15 on the labelled topics in tests/data/identifying_topics.jsonl."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from datetime import date

import pytest

# benchmarks/ is a top-level package of the repository; pytest's pythonpath puts it on sys.path.
from benchmarks.identifying import (
    PRECISION_TARGET,
    RECALL_TARGETS,
    load_labelled,
    score,
)
from zoomguard.rules import policy
from zoomguard.rules.identifying import (
    FULL_NAME,
    KINDS,
    PHN,
    POSTAL_CODE,
    REDACTED,
    SIN,
    STREET_ADDRESS,
    find_identifying,
    names,
    redact,
)
from zoomguard.rules.identifying.phn import phn_valid


def kinds(text: str) -> set[str]:
    return {match.kind for match in find_identifying(text)}


# What issue #15 is done with ---------------------------------------------------------------------


def test_a_full_name_and_an_address_are_flagged_and_redacted() -> None:
    text = "Home visit: Sarah Chen, 1234 Douglas Street, Victoria V8W 2B3"
    assert kinds(text) == {FULL_NAME, STREET_ADDRESS, POSTAL_CODE}
    assert redact(text) == "Home visit: [redacted], [redacted], Victoria [redacted]"


@pytest.mark.parametrize(
    "text",
    [
        "Réunion d'équipe avec Marie",
        "Coffee with Tom",
        "Grace Period review",
        "Will Review",
        "Rose Garden planning",
        "Mark Down prices",
        "Bill Payment process",
        "May Long weekend coverage",
        "Prince George office",
        "Fort St. John outreach",
        "Community Living BC provincial meeting",
        "Simon Fraser University practicum placements",
        "Stanley Park walking meeting",
        "Thanks to Maria, Ahmed and Li",
    ],
)
def test_first_names_alone_and_capitalised_words_are_not_names(text: str) -> None:
    assert kinds(text) == set()
    assert redact(text) == text


def test_the_labelled_topics_meet_the_targets() -> None:
    topics = load_labelled()
    assert len(topics) >= 300
    assert {topic.lang for topic in topics} == {"en", "fr"}
    assert sum(not topic.expected for topic in topics) >= 150  # negatives, hard ones included
    scores = score(topics)
    for kind, target in RECALL_TARGETS.items():
        assert scores.by_kind[kind].recall >= target, (kind, scores.errors)
    assert scores.overall.precision >= PRECISION_TARGET, scores.errors


def test_scoring_counts_a_miss_and_a_false_alarm() -> None:
    topics = load_labelled()
    wrong = [
        type(topics[0])("Case conference: Grace Lee", "en", frozenset()),
        type(topics[0])("Weekly huddle", "en", frozenset({SIN})),
    ]
    scores = score(wrong)
    assert scores.by_kind[FULL_NAME].false_positives == 1
    assert scores.by_kind[SIN].false_negatives == 1
    assert scores.overall.precision == 0.0


# Names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Case conference: Grace Lee", "Case conference: [redacted]"),
        ("Sarah Chen's annual review", "[redacted]'s annual review"),
        ("Discharge planning - Tom J. Chen", "Discharge planning - [redacted]"),
        ("Suivi du dossier de Marie-Ève Côté", "Suivi du dossier de [redacted]"),
        ("Tremblay, Marie - intake", "[redacted] - intake"),
        ("GRACE LEE SUPPORT PLAN", "[redacted] SUPPORT PLAN"),
        ("Olivia Nguyen and Liam Campbell", "[redacted] and [redacted]"),
    ],
)
def test_full_names_are_redacted(text: str, redacted: str) -> None:
    assert redact(text) == redacted


def test_a_name_inside_an_institution_or_an_event_is_not_a_person() -> None:
    assert kinds("Martin Luther King Jr. Day closure") == set()
    assert kinds("Terry Fox Run team sign-up") == set()
    assert kinds("Marche Terry Fox") == set()
    assert kinds("Terry Fox joins the call") == {FULL_NAME}


def test_name_lists_are_not_read_when_zoomguard_is_imported() -> None:
    code = (
        "import sys, zoomguard.rules.policy, zoomguard.service.sweep\nprint('faker' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_name_lists_are_read_once_when_threads_ask_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A sweep's meeting threads reach their first topics together: one reads, the others wait.
    lists = names.NameLists(frozenset({"Grace"}), frozenset({"Lee"}), frozenset())
    reads: list[int] = []
    reading = threading.Event()
    release = threading.Event()

    def slow_read() -> names.NameLists:
        reads.append(1)
        reading.set()
        release.wait(timeout=10)
        return lists

    monkeypatch.setattr(names, "_lists", None)
    monkeypatch.setattr(names, "_read_name_lists", slow_read)
    results: list[names.NameLists] = []
    threads = [
        threading.Thread(target=lambda: results.append(names.name_lists())) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    assert reading.wait(timeout=10)
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(reads) == 1
    assert results == [lists] * 8


# Numbers, addresses, postal codes ---------------------------------------------------------------


def test_phn_check_digit() -> None:
    assert phn_valid("9698658215")
    assert not phn_valid("9698648215")  # one digit changed
    assert not phn_valid("5736504210")  # does not start with 9
    assert not phn_valid("969865821")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("PHN 9698 658 215", {PHN}),
        ("PHN 9698658215", {PHN}),
        ("PHN 9698 648 215", set()),  # wrong check digit
        ("Call 905-555-0123", set()),  # a phone number's 3-3-4 groups
        ("Meeting ID 9698658215", set()),  # labelled as something else
    ],
)
def test_phn_detection(text: str, found: set[str]) -> None:
    assert kinds(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Home visit in V8W 2B3", True),
        ("Forwarding to v6b1a1", True),
        ("Move to H2X-1Y4", True),
        ("Code D8W 2B3", False),  # D is never used
        ("Code V8O 2B3", False),  # nor O
        ("Code W8V 2B3", False),  # W is never first
        ("Code Z8V 2B3", False),  # nor Z
        ("Model V8W2B3X", False),  # part of a longer token
    ],
)
def test_postal_codes(text: str, found: bool) -> None:
    assert (POSTAL_CODE in kinds(text)) is found


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Meet at 45 Oak Ave", "Meet at [redacted]"),
        ("Inspection: 204-1550 W 8th Ave", "Inspection: [redacted]"),
        ("Unit 5, 120 Cedar Lane - review", "[redacted] - review"),
        ("Visite au 1234, rue Sainte-Catherine Ouest", "Visite au [redacted]"),
        ("Mail to PO Box 2045", "Mail to [redacted]"),
        ("Phase 2 Drive Thru clinic", "Phase 2 Drive Thru clinic"),
        ("3 Way call with the ministry", "3 Way call with the ministry"),
        ("Level 3 Boardroom", "Level 3 Boardroom"),
    ],
)
def test_street_addresses(text: str, redacted: str) -> None:
    assert redact(text) == redacted


def test_french_birth_date_labels() -> None:
    assert redact("Date de naissance : 1982-06-21") == "Date de naissance : [redacted]"
    assert redact("Client né le 3 juillet 1968") == "Client né le [redacted]"
    assert redact("Date limite : 30 avril") == "Date limite : 30 avril"


def test_matches_do_not_overlap_and_come_in_reading_order() -> None:
    text = "DOB 1990-04-12, SIN 046 454 286, PHN 9698 658 215, Grace Lee, 45 Oak Ave V8W 2B3"
    matches = find_identifying(text)
    assert [m.kind for m in matches] == [
        "birth_date",
        SIN,
        PHN,
        FULL_NAME,
        STREET_ADDRESS,
        POSTAL_CODE,
    ]
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))
    assert set(KINDS) == {m.kind for m in matches}


# The policy's finding ----------------------------------------------------------------------------


def test_the_finding_names_the_kinds_and_never_the_text() -> None:
    meeting = {
        "id": 85746065432,
        "type": 2,
        "topic": "Home visit: Sarah Chen, 1234 Douglas Street",
        "agenda": "PHN 9698 658 215",
        "password": "Zq8rT2",
        "settings": {"waiting_room": True, "join_before_host": False, "auto_recording": "none"},
    }
    evaluation = policy.evaluate(meeting, policy.default_profile(), today=date(2025, 1, 6))
    (finding,) = [f for f in evaluation.findings if f.rule_id == "identifying_information"]
    assert "a first and last name and a street address" in finding.reason
    assert "the agenda holds a Personal Health Number" in finding.reason
    everything = f"{finding} {evaluation.topic}"
    for raw in ("Sarah", "Chen", "1234 Douglas", "9698"):
        assert raw not in everything
    assert evaluation.topic == f"Home visit: {REDACTED}, {REDACTED}"
    assert not finding.fixable

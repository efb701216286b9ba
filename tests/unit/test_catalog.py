"""The rule catalogs are the one place a rule or baseline setting is declared.

Everything derived from them (the policy file's keys and defaults, the shipped default policy,
the README's tables, the officer's advice, the guidance quotes) is checked against them here,
and the rules package is checked to stay pure, small and free of import cycles.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from zoomguard.config import Settings
from zoomguard.rules import guidance, guidance_quotes, policy
from zoomguard.rules.baseline_items import BASELINE_DEFAULTS, ITEMS
from zoomguard.rules.default_policy import render_default_policy
from zoomguard.rules.meeting_rules import (
    CATALOG_RULES,
    IDENTIFYING_INFORMATION,
    MEETING_RULES,
    RULES,
)
from zoomguard.rules.profile import RULE_DEFAULTS, default_profile, load_profile
from zoomguard.service.alerts import alert_details
from zoomguard.service.outcome import MeetingOutcome

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "zoomguard"
TODAY = date(2026, 3, 1)
EVERYONE_WAITS = {"mode": "custom", "who_goes_to_waiting_room": "everyone"}


# The policy file --------------------------------------------------------------------------------


def test_profile_keys_and_defaults_come_from_the_catalogs() -> None:
    assert tuple(RULE_DEFAULTS.items()) == tuple((r.id, r.default) for r in CATALOG_RULES.values())
    assert tuple(BASELINE_DEFAULTS.items()) == tuple((i.id, i.default) for i in ITEMS.values())
    profile = default_profile()
    assert profile.rules == {r.id for r in CATALOG_RULES.values() if r.default}
    assert profile.baseline.items == {i.id for i in ITEMS.values() if i.default}


def test_shipped_default_policy_is_the_one_the_catalogs_derive() -> None:
    shipped = resources.files("zoomguard").joinpath("policies/default.toml").read_text("utf-8")
    assert shipped == render_default_policy(), (
        "zoomguard/policies/default.toml is out of date: run "
        "python -m zoomguard.rules.default_policy > zoomguard/policies/default.toml"
    )


def test_derived_default_policy_names_every_key_and_loads_as_the_default_profile() -> None:
    text = render_default_policy()
    assert load_profile(text) == default_profile()
    document = tomllib.loads(text)
    assert list(document["rules"]) == list(CATALOG_RULES)
    assert [k for k in document["baseline"] if k in ITEMS] == list(ITEMS)
    # The comment may wrap a rule's text over several "#" lines.
    words = " ".join(word for word in text.split() if word != "#")
    for rule in CATALOG_RULES.values():
        assert rule.checks_text in words


# Guidance quotes --------------------------------------------------------------------------------


@pytest.mark.parametrize("quote", guidance_quotes.ALL_QUOTES)
def test_every_quote_is_verbatim_from_the_guidance(quote: str) -> None:
    # The guidance ships in the package (zoomguard/rules/guidance/), emphasis dropped.
    assert quote in guidance.plain_text()


def test_rules_and_baseline_items_quote_only_the_quotes_module() -> None:
    quoted = {r.guidance for r in RULES.values()} | {i.guidance for i in ITEMS.values()}
    assert quoted <= set(guidance_quotes.ALL_QUOTES)
    assert len(set(guidance_quotes.ALL_QUOTES)) == len(guidance_quotes.ALL_QUOTES)


def test_no_guidance_sentence_is_written_out_twice_in_the_code() -> None:
    for quote in guidance_quotes.ALL_QUOTES:
        opening = quote[:30]  # long enough to be the sentence, short enough to fit one line
        holders = [
            p.relative_to(REPO).as_posix()
            for p in PACKAGE.rglob("*.py")
            if opening in p.read_text(encoding="utf-8")
        ]
        assert holders == ["zoomguard/rules/guidance_quotes.py"], (quote, holders)


# The meeting rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("rule_id", list(CATALOG_RULES))
def test_a_rule_fixes_only_a_field_it_reads(rule_id: str) -> None:
    rule = CATALOG_RULES[rule_id]
    fields = {f.strip() for f in rule.field.split(",")}
    if rule.fix is not None:
        assert rule.fix.path in fields


@pytest.mark.parametrize("rule_id", [r for r, rule in MEETING_RULES.items() if rule.fixable])
def test_each_fix_is_its_part_of_the_single_patch(rule_id: str) -> None:
    """A meeting that breaks only this rule gets a PATCH holding only this rule's fix."""
    rule = MEETING_RULES[rule_id]
    assert rule.fix is not None
    meeting: dict[str, Any] = {
        "id": 85746065432,
        "type": 2,
        "password": "Xy3*abcd9Q",
        "settings": {
            "waiting_room": True,
            "waiting_room_options": EVERYONE_WAITS,
            "join_before_host": False,
            "auto_recording": "none",
            "meeting_authentication": True,
            "use_pmi": False,
            "auto_start_meeting_summary": False,
            "auto_start_ai_companion_questions": False,
        },
    }
    every_rule = policy.Profile(rules=frozenset(MEETING_RULES))
    assert policy.evaluate(meeting, every_rule, today=TODAY).compliant
    *parents, leaf = rule.fix.path.split(".")
    target = meeting
    for key in parents:
        target = target[key]
    if isinstance(rule.fix.value, bool):
        target[leaf] = not rule.fix.value  # the wrong value
    else:
        del target[leaf]  # absent: zoomguard cannot confirm the rule holds, so it fixes it
    evaluation = policy.evaluate(
        meeting, every_rule, today=TODAY, make_passcode=lambda: "Ab3*xY9-zQ"
    )
    assert [f.rule_id for f in evaluation.findings] == [rule_id]
    value = "Ab3*xY9-zQ" if rule.fix.new_passcode else rule.fix.value
    expected: dict[str, object] = {leaf: value}
    for key in reversed(parents):
        expected = {key: expected}
    assert evaluation.patch == expected


def test_an_occurrence_is_checked_only_for_what_it_can_have_of_its_own() -> None:
    assert set(policy.OCCURRENCE_CATALOG) == policy.OCCURRENCE_RULES
    assert policy.WAITING_ROOM in policy.OCCURRENCE_CATALOG
    for rule in policy.OCCURRENCE_CATALOG.values():
        assert rule.fix is not None
        for path, _ in rule.fix.assignments():
            # PATCH ?occurrence_id= takes only these: anything else Zoom refuses.
            assert path.removeprefix("settings.") in policy.OCCURRENCE_SETTINGS


def _occurrence(waiting_room: bool) -> dict[str, Any]:
    """One occurrence, its own settings only: no waiting_room_options (the series has them)."""
    return {
        "id": 85746065432,
        "type": 8,
        "password": "Xy3*abcd9Q",
        "settings": {
            "waiting_room": waiting_room,
            "join_before_host": False,
            "auto_recording": "none",
        },
    }


def test_an_occurrence_is_not_flagged_for_the_options_only_its_series_has() -> None:
    profile = default_profile()
    # As a series, no options means "follows the host's setting", here unread: a finding.
    assert [
        f.rule_id for f in policy.evaluate(_occurrence(True), profile, today=TODAY).findings
    ] == [policy.WAITING_ROOM]
    # As an occurrence, the same settings comply: its options are its series', checked there.
    evaluation = policy.evaluate(_occurrence(True), profile, today=TODAY, occurrence=True)
    assert evaluation.compliant


def test_an_occurrence_waiting_room_off_is_turned_on_without_options_and_confirmed() -> None:
    profile = default_profile()
    evaluation = policy.evaluate(_occurrence(False), profile, today=TODAY, occurrence=True)
    assert evaluation.occurrence
    [finding] = evaluation.findings
    assert (finding.rule_id, finding.field) == (policy.WAITING_ROOM, "settings.waiting_room")
    assert evaluation.patch == {"settings": {"waiting_room": True}}
    fixed, still = policy.verify(evaluation, _occurrence(True), profile, today=TODAY)
    assert ([f.rule_id for f in fixed], still) == ([policy.WAITING_ROOM], [])


def test_officer_advice_comes_from_the_rule() -> None:
    rule = MEETING_RULES[IDENTIFYING_INFORMATION]
    assert rule.advice is not None
    meeting = {
        "id": 85746065432,
        "type": 2,
        "topic": "Intake for SIN 046 454 286",
        "password": "Xy3*abcd9Q",
        "settings": {
            "waiting_room": True,
            "waiting_room_options": EVERYONE_WAITS,
            "join_before_host": False,
            "auto_recording": "none",
        },
    }
    evaluation = policy.evaluate(meeting, default_profile(), today=TODAY)
    (finding,) = evaluation.findings
    outcome = MeetingOutcome(
        evaluation=evaluation,
        statuses={finding.rule_id: "reported"},
        details={finding.rule_id: "report only: a person must act"},
        after={},
        patched=False,
        confirmed=None,
        before_values={},
        after_values={},
        start_time=None,
    )
    settings = Settings.from_env({"ZOOMGUARD_SECRET_KEY": "a catalog test passphrase"})
    details = alert_details(evaluation, finding, "reported", outcome, None, settings)
    assert details["officer_action"] == rule.advice
    assert details["rule"] == rule.title
    assert "046" not in str(details)  # the SIN is redacted everywhere


# The README -------------------------------------------------------------------------------------


def _readme_section(heading: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def readme_rule_rows() -> list[str]:
    """The README's "What it enforces" rows, as the catalog derives them."""
    rows = []
    for rule in CATALOG_RULES.values():
        source = f'"{rule.guidance}"'
        if not rule.default:
            source = "optional (off by default)"
        rows.append(f"| {source} | {rule.checks_text} | {rule.fix_text} |")
    return rows


def test_readme_rule_table_is_the_catalog() -> None:
    section = _readme_section("What it enforces")
    table = [line for line in section.splitlines() if line.startswith("| ")]
    assert table[:2] == ["| guidance says | zoomguard checks | fix |", "| --- | --- | --- |"]
    expected = readme_rule_rows()
    assert table[2:] == expected, "README's rows should be:\n" + "\n".join(expected)


def _toml_block(section: str) -> dict[str, object]:
    match = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return tomllib.loads(match.group(1))


def test_readme_policy_file_lists_every_key_with_its_default() -> None:
    document = _toml_block(_readme_section("Policy file"))
    assert document["rules"] == dict(RULE_DEFAULTS)
    baseline = document["baseline"]
    assert isinstance(baseline, dict)
    assert {k: v for k, v in baseline.items() if k in ITEMS} == dict(BASELINE_DEFAULTS)
    assert list(k for k in baseline if k in ITEMS) == list(ITEMS)


# The package's shape ----------------------------------------------------------------------------


@functools.cache
def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, anywhere in it (inside functions and TYPE_CHECKING too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


# What the rules may import of zoomguard: themselves and the stdlib-only foundations.
PURE_ZOOMGUARD_MODULES = ("zoomguard.rules", "zoomguard.errors", "zoomguard.masking")


def test_the_rules_package_is_pure_and_small() -> None:
    for path in (PACKAGE / "rules").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 600, path.name
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "zoomguard":
                assert name.startswith(PURE_ZOOMGUARD_MODULES), (path, name)
            else:
                assert top == "__future__" or top in _stdlib(), (path, name)


def _stdlib() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names)


@functools.cache
def _import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


@pytest.mark.parametrize(
    "module",
    [
        "zoomguard.service.enforce",
        "zoomguard.service.alerts",
        "zoomguard.service.outcome",
        *sorted(m for m in _modules() if m.startswith("zoomguard.rules.")),
    ],
)
def test_no_import_cycle_through(module: str) -> None:
    graph = _import_graph()
    # A cycle through ``module`` is a path from any module it imports back to it.
    seen: set[str] = set()
    stack = list(graph[module])
    while stack:
        current = stack.pop()
        assert current != module, f"{module} imports itself through {sorted(seen)}"
        if current in seen:
            continue
        seen.add(current)
        stack.extend(graph[current])

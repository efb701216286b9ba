"""zoomguard.rules.baseline (pure) and the [baseline] table of the policy file."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from support.openapi import validate_request, validate_response

from zoomguard.errors import PolicyError
from zoomguard.rules import baseline as bl
from zoomguard.rules.baseline_items import (
    BASELINE_DEFAULTS,
    BASELINE_PMI_PASSCODE,
    DEFAULT_BASELINE_ITEMS,
)
from zoomguard.rules.policy import load_profile
from zoomguard.rules.profile import Baseline, Profile, default_profile

ALL_ON = Baseline()
SETTING_ITEMS = [i for i in bl.ITEMS if i != BASELINE_PMI_PASSCODE]
PASSCODE = "Ab3*xY9-kq"

# Where Zoom documents each level's settings (GET and PATCH).
SETTINGS_PATHS = {
    bl.ACCOUNT: "/v2/accounts/me/settings",
    bl.GROUP: "/v2/groups/grp1/settings",
    bl.USER: "/v2/users/usr1/settings",
}
LOCK_PATHS = {
    bl.ACCOUNT: "/v2/accounts/me/lock_settings",
    bl.GROUP: "/v2/groups/grp1/lock_settings",
}


def build(level: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A settings document at ``level`` with every baseline path at the baseline value, except
    the item ids given in ``values`` (item id -> value)."""
    doc: dict[str, Any] = {}
    for item in bl.ITEMS.values():
        for path in item.paths.get(level, ()):
            if item.id == BASELINE_PMI_PASSCODE:
                value: Any = PASSCODE
            else:
                value = item.desired
            if values and item.id in values:
                value = values[item.id]
            _put(doc, path, value)
    return doc


def build_locks(level: str, unlocked: tuple[str, ...] = ()) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for item in bl.ITEMS.values():
        for path in item.lock_paths.get(level, ()):
            _put(doc, path, item.id not in unlocked)
    return doc


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[leaf] = value


def flat_paths(doc: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in doc.items():
        if isinstance(value, Mapping):
            yield from flat_paths(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def account_eval(
    settings: Mapping[str, Any], locks: Mapping[str, Any], *, enforce: bool = True
) -> bl.TargetEvaluation:
    return bl.evaluate(bl.ACCOUNT, "account", settings, locks, ALL_ON, enforce=enforce)


def wrong_value(item_id: str) -> Any:
    desired = bl.ITEMS[item_id].desired
    if isinstance(desired, bool):
        return not desired
    return {"all": "none", "none": "cloud"}[str(desired)]


# The items and Zoom's documents ------------------------------------------------------------------


def test_items_and_policy_defaults_agree() -> None:
    assert tuple(bl.ITEMS) == tuple(BASELINE_DEFAULTS)
    assert frozenset(BASELINE_DEFAULTS) == DEFAULT_BASELINE_ITEMS
    for item in bl.ITEMS.values():
        assert item.rule_id == f"baseline.{item.id}"
        assert len(item.rule_id) <= 64  # findings.rule_id is str(64)
    for item_id in SETTING_ITEMS:
        item = bl.ITEMS[item_id]
        assert set(item.paths) == {bl.ACCOUNT, bl.GROUP, bl.USER}
        assert set(item.lock_paths) == {bl.ACCOUNT, bl.GROUP}
    assert not bl.ITEMS[BASELINE_PMI_PASSCODE].lockable


@pytest.mark.parametrize("level", [bl.ACCOUNT, bl.GROUP, bl.USER])
def test_every_settings_path_is_one_zoom_documents_at_that_level(level: str) -> None:
    # Strict validation fails on any member no schema at its position declares, so a path
    # that lives elsewhere at this level (e.g. in_meeting.waiting_room on the account) fails.
    doc = build(level)
    validate_response("GET", SETTINGS_PATHS[level], 200, doc)
    for option, body in bl.split_by_option(doc):
        query = {"option": option} if option else None
        validate_request("PATCH", SETTINGS_PATHS[level], query, body)


@pytest.mark.parametrize("level", [bl.ACCOUNT, bl.GROUP])
def test_every_lock_path_is_one_zoom_documents_at_that_level(level: str) -> None:
    doc = build_locks(level)
    validate_response("GET", LOCK_PATHS[level], 200, doc)
    for _, body in bl.split_by_option(doc):
        validate_request("PATCH", LOCK_PATHS[level], None, body)


def test_the_paths_the_issue_names_are_where_zoom_keeps_them() -> None:
    items = bl.ITEMS
    assert items["waiting_room"].paths[bl.ACCOUNT] == ("meeting_security.waiting_room",)
    assert items["waiting_room"].paths[bl.USER][0] == "in_meeting.waiting_room"
    assert items["passcode_in_join_link"].paths[bl.ACCOUNT] == (
        "meeting_security.embed_password_in_join_link",
    )
    assert items["file_transfer"].paths[bl.ACCOUNT] == ("in_meeting.file_transfer",)
    assert items["passcode_pmi_meetings"].desired == "all"  # an enum in settings, bool in locks
    assert items["auto_recording"].desired == "none"


def test_meeting_security_needs_its_own_read() -> None:
    assert bl.needs_meeting_security(bl.ACCOUNT, ALL_ON)
    assert bl.needs_meeting_security(bl.ACCOUNT, ALL_ON, locks=True)
    without = Baseline(items=DEFAULT_BASELINE_ITEMS - {"waiting_room", "passcode_in_join_link"})
    assert not bl.needs_meeting_security(bl.ACCOUNT, without)
    assert not bl.needs_meeting_security(bl.USER, without)


def test_split_and_merge_round_trip() -> None:
    doc = build(bl.ACCOUNT)
    parts = dict(bl.split_by_option(doc))
    assert set(parts) == {None, "meeting_security"}
    assert set(parts["meeting_security"]) == {"meeting_security"}
    assert "meeting_security" not in parts[None]
    assert bl.merge_reads(parts[None], parts["meeting_security"]) == doc
    assert bl.split_by_option({}) == []


# Evaluation ------------------------------------------------------------------------------------


def test_a_compliant_locked_account_has_nothing_to_do() -> None:
    evaluation = account_eval(build(bl.ACCOUNT), build_locks(bl.ACCOUNT))
    assert evaluation.compliant
    assert [c.item_id for c in evaluation.checks] == SETTING_ITEMS
    assert all(c.locked is True for c in evaluation.checks)
    assert evaluation.settings_patch == {}
    assert evaluation.lock_patch == {}


@pytest.mark.parametrize("item_id", SETTING_ITEMS)
def test_each_wrong_account_setting_is_set_and_locked(item_id: str) -> None:
    item = bl.ITEMS[item_id]
    settings = build(bl.ACCOUNT, {item_id: wrong_value(item_id)})
    evaluation = account_eval(settings, build_locks(bl.ACCOUNT, unlocked=(item_id,)))
    assert [c.item_id for c in evaluation.deviations] == [item_id]
    check = evaluation.deviations[0]
    assert (check.actual, check.desired, check.locked) == (
        wrong_value(item_id),
        item.desired,
        False,
    )
    assert sorted(flat_paths(evaluation.settings_patch)) == sorted(item.paths[bl.ACCOUNT])
    assert all(
        bl.get_path(evaluation.settings_patch, p) == item.desired for p in item.paths["account"]
    )
    assert sorted(flat_paths(evaluation.lock_patch)) == sorted(item.lock_paths[bl.ACCOUNT])
    assert all(v is True for v in bl.flatten(evaluation.lock_patch).values())


def test_a_right_but_unlocked_account_setting_is_only_locked() -> None:
    evaluation = account_eval(
        build(bl.ACCOUNT), build_locks(bl.ACCOUNT, unlocked=("file_transfer",))
    )
    [check] = evaluation.deviations
    assert check.item_id == "file_transfer"
    assert check.value_ok
    assert not check.lock_ok
    assert evaluation.settings_patch == {}
    assert evaluation.lock_patch == {"in_meeting": {"file_transfer": True}}


def test_report_mode_finds_everything_and_patches_nothing() -> None:
    settings = build(bl.ACCOUNT, {i: wrong_value(i) for i in SETTING_ITEMS})
    evaluation = account_eval(settings, {}, enforce=False)
    assert len(evaluation.deviations) == len(SETTING_ITEMS)
    assert evaluation.settings_patch == {}
    assert evaluation.lock_patch == {}


def test_a_setting_zoom_does_not_return_is_set() -> None:
    settings = build(bl.ACCOUNT)
    del settings["in_meeting"]["file_transfer"]
    evaluation = account_eval(settings, build_locks(bl.ACCOUNT))
    [check] = evaluation.deviations
    assert (check.item_id, check.actual, check.value_ok) == ("file_transfer", None, False)
    assert evaluation.settings_patch == {"in_meeting": {"file_transfer": False}}


def test_items_switched_off_are_not_checked() -> None:
    only = Baseline(items=frozenset({"file_transfer"}))
    settings = build(bl.ACCOUNT, {i: wrong_value(i) for i in SETTING_ITEMS})
    evaluation = bl.evaluate(bl.ACCOUNT, "account", settings, {}, only, enforce=True)
    assert [c.item_id for c in evaluation.checks] == ["file_transfer"]
    assert evaluation.settings_patch == {"in_meeting": {"file_transfer": False}}
    assert evaluation.lock_patch == {"in_meeting": {"file_transfer": True}}


def test_a_group_with_a_wrong_value_is_set_and_locked_at_group_level() -> None:
    settings = build(bl.GROUP, {"waiting_room": False})
    evaluation = bl.evaluate(bl.GROUP, "group:g1", settings, {}, ALL_ON, enforce=True)
    assert [c.item_id for c in evaluation.deviations] == ["waiting_room"]
    assert evaluation.settings_patch == {
        "in_meeting": {"waiting_room": True},
        "meeting_security": {"waiting_room": True},
    }
    assert evaluation.lock_patch == {
        "in_meeting": {"waiting_room": True},
        "meeting_security": {"waiting_room": True},
    }


def test_below_the_account_a_right_value_needs_no_lock() -> None:
    evaluation = bl.evaluate(
        bl.GROUP, "group:g1", build(bl.GROUP), {}, ALL_ON, enforce=True, inherited_locks={}
    )
    assert evaluation.compliant
    assert evaluation.lock_patch == {}
    assert all(c.locked is False for c in evaluation.checks)


def test_a_lock_zoom_returns_under_one_path_of_two_counts() -> None:
    locks = build_locks(bl.ACCOUNT)
    del locks["schedule_meeting"]["embed_password_in_join_link"]
    assert account_eval(build(bl.ACCOUNT), locks).compliant
    locks["meeting_security"]["embed_password_in_join_link"] = False
    evaluation = account_eval(build(bl.ACCOUNT), locks)
    assert [c.item_id for c in evaluation.deviations] == ["passcode_in_join_link"]
    assert evaluation.lock_patch == {
        "schedule_meeting": {"embed_password_in_join_link": True},
        "meeting_security": {"embed_password_in_join_link": True},
    }


def test_one_of_two_paths_wrong_is_a_deviation_shown_on_that_path() -> None:
    settings = build(bl.USER)
    settings["meeting_security"]["embed_password_in_join_link"] = True
    evaluation = bl.evaluate(bl.USER, "user:u1", settings, None, ALL_ON, enforce=True)
    [check] = evaluation.deviations
    assert check.field == "meeting_security.embed_password_in_join_link"
    assert check.actual is True
    assert check.locked is None  # a user has no lock of its own


def test_inherited_locks_are_shown_for_users() -> None:
    evaluation = bl.evaluate(
        bl.USER,
        "user:u1",
        build(bl.USER),
        None,
        ALL_ON,
        enforce=False,
        inherited_locks={"file_transfer": True},
    )
    assert evaluation.check("file_transfer") is not None
    assert evaluation.check("file_transfer").locked is True  # type: ignore[union-attr]
    assert evaluation.check("waiting_room").locked is False  # type: ignore[union-attr]


def test_a_value_inherited_from_the_account_is_not_the_users_own_deviation() -> None:
    account = account_eval(build(bl.ACCOUNT, {"file_transfer": True}), {}, enforce=False)
    above = (bl.values_of(account),)
    # Same wrong value as the account: inherited, reported and fixed at the account.
    same = bl.evaluate(
        bl.USER,
        "user:u1",
        build(bl.USER, {"file_transfer": True, "auto_recording": "local"}),
        None,
        ALL_ON,
        enforce=True,
        above=above,
    )
    assert [c.item_id for c in same.deviations] == ["auto_recording"]
    assert same.check("file_transfer").follows_above  # type: ignore[union-attr]
    assert same.settings_patch == {"recording": {"auto_recording": "none"}}


def test_a_wrong_value_where_the_account_is_right_is_an_override() -> None:
    account = account_eval(build(bl.ACCOUNT), {}, enforce=False)
    group = bl.evaluate(
        bl.GROUP,
        "group:g1",
        build(bl.GROUP, {"join_before_host": True}),
        {},
        ALL_ON,
        enforce=False,
        above=(bl.values_of(account),),
    )
    assert [c.item_id for c in group.deviations] == ["join_before_host"]


def test_unknown_level_and_target_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        bl.evaluate("room", "room:1", {}, None, ALL_ON, enforce=True)
    assert bl.target_of(bl.ACCOUNT) == "account"
    assert bl.target_of(bl.GROUP, "abc") == "group:abc"
    assert bl.target_of(bl.USER, "u1") == "user:u1"
    with pytest.raises(ValueError, match="needs an id"):
        bl.target_of(bl.USER, "")


# The PMI counts as a meeting ----------------------------------------------------------------------


def user_settings(pmi_password: Any, *, personal_meeting: Any = True) -> dict[str, Any]:
    settings = build(bl.USER)
    settings["schedule_meeting"]["pmi_password"] = pmi_password
    settings["schedule_meeting"]["personal_meeting"] = personal_meeting
    return settings


def test_a_pmi_without_a_passcode_gets_one_never_shown() -> None:
    evaluation = bl.evaluate(
        bl.USER,
        "user:u1",
        user_settings(""),
        None,
        ALL_ON,
        enforce=True,
        make_passcode=lambda: PASSCODE,
    )
    [check] = evaluation.deviations
    assert (check.item_id, check.actual, check.desired) == (BASELINE_PMI_PASSCODE, "", "(set)")
    assert evaluation.settings_patch == {"schedule_meeting": {"pmi_password": PASSCODE}}
    assert evaluation.audit_settings_patch == {"schedule_meeting": {"pmi_password": "(set)"}}
    assert PASSCODE not in repr(evaluation.checks)
    assert evaluation.lock_patch == {}


def test_a_pmi_with_a_passcode_is_fine_and_its_passcode_stays_hidden() -> None:
    evaluation = bl.evaluate(
        bl.USER, "user:u1", user_settings("s3cret"), None, ALL_ON, enforce=True
    )
    assert evaluation.compliant
    check = evaluation.check(BASELINE_PMI_PASSCODE)
    assert check is not None
    assert check.actual == "(set)"


def without_pmi_passcode() -> dict[str, Any]:
    settings = build(bl.USER)
    del settings["schedule_meeting"]["pmi_password"]
    return settings


@pytest.mark.parametrize(
    "settings",
    [user_settings("", personal_meeting=False), without_pmi_passcode()],
    ids=["pmi-switched-off", "zoom-does-not-say"],
)
def test_a_pmi_zoom_says_nothing_about_is_not_checked(settings: dict[str, Any]) -> None:
    evaluation = bl.evaluate(bl.USER, "user:u1", settings, None, ALL_ON, enforce=True)
    assert evaluation.check(BASELINE_PMI_PASSCODE) is None
    assert evaluation.settings_patch == {}


def test_a_bad_passcode_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="passcode"):
        bl.evaluate(
            bl.USER,
            "user:u1",
            user_settings(""),
            None,
            ALL_ON,
            enforce=True,
            make_passcode=lambda: "far too long for zoom",
        )


def test_masking_keeps_the_meaning_and_hides_the_passcode() -> None:
    assert bl.masked_value("schedule_meeting.pmi_password", "abc") == "(set)"
    assert bl.masked_value("schedule_meeting.pmi_password", "") == ""
    assert bl.masked_value("schedule_meeting.require_password_for_pmi_meetings", "all") == "all"
    assert bl.flatten({"schedule_meeting": {"pmi_password": "x", "join_before_host": False}}) == {
        "schedule_meeting.pmi_password": "(set)",
        "schedule_meeting.join_before_host": False,
    }


# Settling after the fix -----------------------------------------------------------------------


def noncompliant_account() -> bl.TargetEvaluation:
    return account_eval(
        build(bl.ACCOUNT, {"file_transfer": True}),
        build_locks(bl.ACCOUNT, unlocked=("file_transfer", "waiting_room")),
    )


def test_a_fix_counts_only_when_the_reread_shows_value_and_lock() -> None:
    before = noncompliant_account()
    reread = account_eval(build(bl.ACCOUNT), build_locks(bl.ACCOUNT), enforce=False)
    results = {r.item_id: r for r in bl.settle(before, reread=reread, patched=True, enforce=True)}
    assert results["file_transfer"].status == bl.FIXED
    assert (results["file_transfer"].actual, results["file_transfer"].after) == (True, False)
    assert (results["file_transfer"].locked_before, results["file_transfer"].locked_after) == (
        False,
        True,
    )
    assert results["file_transfer"].status_text == "fixed and locked"
    assert results["waiting_room"].status == bl.FIXED  # right value, lock added
    assert results["join_before_host"].status == bl.OK
    assert results["file_transfer"].enforcement == "locked at the source"


def test_a_value_zoom_kept_or_a_lock_that_did_not_take_is_a_failure() -> None:
    before = noncompliant_account()
    reread = account_eval(
        build(bl.ACCOUNT, {"file_transfer": True}),
        build_locks(bl.ACCOUNT, unlocked=("waiting_room",)),
        enforce=False,
    )
    results = {r.item_id: r for r in bl.settle(before, reread=reread, patched=True, enforce=True)}
    assert results["file_transfer"].status == bl.FAILED
    assert "kept the old value" in (results["file_transfer"].detail or "")
    assert results["waiting_room"].status == bl.FAILED
    assert "lock" in (results["waiting_room"].detail or "")
    assert results["waiting_room"].enforcement == "not locked: repaired after the fact"


def test_report_mode_dry_run_and_refused_changes() -> None:
    before = noncompliant_account()
    reported = bl.settle(before, reread=None, patched=False, enforce=False)
    assert {r.status for r in reported if r.item_id == "file_transfer"} == {bl.REPORTED}
    assert reported[-1].detail == "report mode: not changed"
    dry = bl.settle(before, reread=None, patched=False, enforce=False, dry_run=True)
    assert "dry run" in (next(r for r in dry if r.status == bl.REPORTED).detail or "")
    refused = bl.settle(before, reread=None, patched=False, enforce=True, error="could not fix: x")
    assert {r.status for r in refused if r.item_id == "file_transfer"} == {bl.FAILED}
    unconfirmed = bl.settle(before, reread=None, patched=True, enforce=True)
    assert "could not confirm" in (
        next(r for r in unconfirmed if r.status == bl.FAILED).detail or ""
    )


def test_a_group_brought_in_line_by_the_account_lock_counts_as_fixed() -> None:
    before = bl.evaluate(
        bl.GROUP, "group:g1", build(bl.GROUP, {"file_transfer": True}), {}, ALL_ON, enforce=False
    )
    after = bl.evaluate(
        bl.GROUP,
        "group:g1",
        build(bl.GROUP),
        build_locks(bl.GROUP),
        ALL_ON,
        enforce=False,
    )
    [result] = [
        r for r in bl.settle(before, reread=after, patched=False, enforce=True) if r.status != bl.OK
    ]
    assert result.status == bl.FIXED
    assert result.detail == "now follows the setting locked above it"


# The summary -------------------------------------------------------------------------------------


def test_summary_says_what_is_locked_at_the_source_and_what_is_only_repaired() -> None:
    before = noncompliant_account()
    reread = account_eval(
        build(bl.ACCOUNT), build_locks(bl.ACCOUNT, unlocked=("waiting_room",)), enforce=False
    )
    account_rows = bl.settle(before, reread=reread, patched=True, enforce=True)
    user_before = bl.evaluate(bl.USER, "user:u1", user_settings(""), None, ALL_ON, enforce=False)
    user_after = bl.evaluate(
        bl.USER, "user:u1", user_settings("fresh1"), None, ALL_ON, enforce=False
    )
    user_rows = [
        r
        for r in bl.settle(
            user_before, reread=user_after, patched=True, enforce=True, target_name="u@x.example"
        )
        if r.status != bl.OK
    ]
    result = bl.BaselineResult(
        account="acct",
        mode="enforce",
        dry_run=False,
        scope="account",
        settings=(*account_rows, *user_rows),
        recordings=(
            bl.RecordingResult(
                "81234567890", "abc==", "u1", "u@x.example", "Intake", None, 3, 10, "trashed"
            ),
        ),
        recordings_checked=True,
        patches=3,
    )
    text = bl.render_summary(result)
    locked_line = next(
        line for line in text.splitlines() if line.startswith("Locked at the source")
    )
    repaired_line = next(line for line in text.splitlines() if line.startswith("Only repaired"))
    assert "file_transfer" in locked_line
    assert "waiting_room" not in locked_line
    assert "waiting_room" in repaired_line
    assert "pmi_passcode" in repaired_line
    assert "user:u1 (u@x.example)" in text
    assert "FAILED account waiting_room" in text
    assert "1 trashed" in text
    assert "fresh1" not in text
    assert result.changed_anything
    assert not result.compliant


def test_summary_of_a_compliant_account_says_nothing_changed() -> None:
    evaluation = account_eval(build(bl.ACCOUNT), build_locks(bl.ACCOUNT), enforce=False)
    result = bl.BaselineResult(
        account="acct",
        mode="report",
        dry_run=False,
        scope="account",
        settings=bl.settle(evaluation, reread=None, patched=False, enforce=False),
        recordings_checked=True,
    )
    text = bl.render_summary(result)
    assert "No group or user deviated" in text
    assert "Cloud recordings within the look-back: none." in text
    assert "nothing was changed in Zoom" in text
    assert "Only repaired" not in text
    assert result.compliant
    assert not result.changed_anything


# The [baseline] table of the policy file -------------------------------------------------------


def test_without_a_baseline_table_every_item_is_on_and_follows_the_mode() -> None:
    profile = load_profile('mode = "report"')
    assert profile.baseline == Baseline()
    assert profile.baseline.items == DEFAULT_BASELINE_ITEMS
    assert profile.baseline_mode == "report"
    assert default_profile().baseline_mode == "enforce"
    assert default_profile().baseline.recordings_lookback_days == 30


def test_baseline_table_switches_items_mode_and_lookback() -> None:
    profile = load_profile(
        """
        mode = "enforce"
        [baseline]
        mode = "report"
        file_transfer = false
        pmi_passcode = false
        recordings_lookback_days = 90
        """
    )
    assert profile.mode == "enforce"
    assert profile.baseline_mode == "report"
    assert profile.baseline.items == DEFAULT_BASELINE_ITEMS - {"file_transfer", "pmi_passcode"}
    assert not profile.baseline.enabled("file_transfer")
    assert profile.baseline.recordings_lookback_days == 90
    # The meeting rules are untouched by the baseline table.
    assert profile.rules == default_profile().rules


BASELINE_ERRORS = [
    ("[baseline]\nfile_transfr = false", "policy: baseline.file_transfr: unknown key"),
    ("[baseline]\nfile_transfer = 0", "policy: baseline.file_transfer: must be true or false"),
    ('[baseline]\nwaiting_room = "on"', "policy: baseline.waiting_room: must be true or false"),
    ('[baseline]\nmode = "fix"', 'policy: baseline.mode: must be "enforce" or "report"'),
    ("baseline = 1", "policy: baseline: must be a table"),
    ("[baseline]\nrecordings_lookback_days = 0", "policy: baseline.recordings_lookback_days:"),
    ("[baseline]\nrecordings_lookback_days = 4000", "policy: baseline.recordings_lookback_days:"),
    ('[baseline]\nrecordings_lookback_days = "30"', "policy: baseline.recordings_lookback_days:"),
    ("[baseline]\nrecordings_lookback_days = true", "policy: baseline.recordings_lookback_days:"),
]


@pytest.mark.parametrize(("text", "message"), BASELINE_ERRORS)
def test_baseline_table_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_profile(text)
    assert str(caught.value).startswith(message)


def test_baseline_values_are_checked_when_built_in_code_too() -> None:
    with pytest.raises(ValueError, match="unknown baseline items"):
        Baseline(items=frozenset({"teleport"}))
    with pytest.raises(ValueError, match="mode"):
        Baseline(mode="fix")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="recordings_lookback_days"):
        Baseline(recordings_lookback_days=0)
    assert Profile(baseline=Baseline(mode="report")).baseline_mode == "report"


def test_evaluation_does_not_modify_its_input() -> None:
    settings = build(bl.ACCOUNT, {"file_transfer": True})
    locks = build_locks(bl.ACCOUNT, unlocked=("file_transfer",))
    frozen = copy.deepcopy((settings, locks))
    account_eval(settings, locks)
    assert (settings, locks) == frozen

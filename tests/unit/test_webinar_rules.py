"""The webinar rules (``zoomguard.rules.webinar_rules``) through ``policy.evaluate_webinar``."""

from __future__ import annotations

from datetime import date
from typing import Any

from zoomguard.rules import policy
from zoomguard.rules.webinar_rules import (
    WEBINAR_AI_COMPANION_OFF,
    WEBINAR_NO_AUTO_RECORDING,
    WEBINAR_NOT_ON_DEMAND,
    WEBINAR_PASSCODE,
)

TODAY = date(2026, 3, 1)
NEW_PASSCODE = "Ab3*xY9-zQ"


def compliant_webinar(**overrides: Any) -> dict[str, Any]:
    webinar: dict[str, Any] = {
        "id": 91234567890,
        "uuid": "wEbInArUuId0000000000==",
        "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
        "host_email": "host@example.org",
        "topic": "Quarterly town hall",
        "type": 5,
        "password": "s3cret-Pw",
        # A webinar has no waiting room or join-before-host: the meeting rules must not apply.
        "settings": {"auto_recording": "none", "on_demand": False, "approval_type": 2},
    }
    webinar.update(overrides)
    return webinar


def evaluate(webinar: dict[str, Any], profile: policy.Profile | None = None) -> policy.Evaluation:
    return policy.evaluate_webinar(
        webinar,
        profile or policy.default_profile(),
        today=TODAY,
        make_passcode=lambda: NEW_PASSCODE,
    )


def test_a_compliant_webinar_has_no_findings_and_no_patch() -> None:
    evaluation = evaluate(compliant_webinar())
    assert evaluation.compliant
    assert evaluation.patch == {}
    assert evaluation.kind == policy.WEBINAR


def test_every_webinar_rule_is_fixed_in_one_patch() -> None:
    webinar = compliant_webinar(
        password="",
        settings={
            "auto_recording": "cloud",
            "on_demand": True,
            "auto_start_meeting_summary": True,
        },
    )
    evaluation = evaluate(webinar)
    assert [f.rule_id for f in evaluation.findings] == [
        WEBINAR_PASSCODE,
        WEBINAR_NO_AUTO_RECORDING,
        WEBINAR_NOT_ON_DEMAND,
        WEBINAR_AI_COMPANION_OFF,
    ]
    assert evaluation.patch == {
        "password": NEW_PASSCODE,
        "settings": {
            "auto_recording": "none",
            "on_demand": False,
            "auto_start_meeting_summary": False,
        },
    }
    on_demand = evaluation.findings[2]
    assert "on demand" in on_demand.reason
    assert on_demand.guidance == policy.RULES[WEBINAR_NOT_ON_DEMAND].guidance


def test_ai_companion_is_judged_only_where_the_webinar_has_the_field() -> None:
    assert evaluate(compliant_webinar()).compliant  # Zoom's document has no such field today
    with_field = compliant_webinar(
        settings={"auto_recording": "none", "on_demand": False, "auto_start_meeting_summary": 1}
    )
    [finding] = evaluate(with_field).findings
    assert finding.rule_id == policy.UNREADABLE


def test_a_meeting_is_not_a_webinar() -> None:
    [finding] = evaluate(compliant_webinar(type=2)).findings
    assert finding.rule_id == policy.UNREADABLE
    assert "a webinar type: 5, 6, 9" in str(finding.expected)
    assert "this webinar" in finding.reason


def test_report_mode_and_switched_off_rules() -> None:
    webinar = compliant_webinar(settings={"auto_recording": "local", "on_demand": True})
    report = policy.Profile(mode="report")
    evaluation = evaluate(webinar, report)
    assert len(evaluation.findings) == 2
    assert evaluation.patch == {}
    only_recording = policy.Profile(rules=frozenset({WEBINAR_NO_AUTO_RECORDING}))
    evaluation = evaluate(webinar, only_recording)
    assert [f.rule_id for f in evaluation.findings] == [WEBINAR_NO_AUTO_RECORDING]
    assert evaluation.patch == {"settings": {"auto_recording": "none"}}


def test_an_exemption_by_id_covers_the_webinar() -> None:
    profile = policy.load_profile(
        '[[exemptions]]\nmeeting_id = "912 3456 7890"\nreason = "public broadcast"\n'
        "expires = 2026-12-31\n"
    )
    evaluation = evaluate(compliant_webinar(settings={"auto_recording": "cloud"}), profile)
    assert evaluation.exempt
    assert evaluation.patch == {}


def test_verify_reads_back_the_webinar_with_the_webinar_rules() -> None:
    before = compliant_webinar(settings={"auto_recording": "cloud", "on_demand": True})
    evaluation = evaluate(before)
    kept_on_demand = compliant_webinar(settings={"auto_recording": "none", "on_demand": True})
    fixed, still = policy.verify(evaluation, kept_on_demand, policy.default_profile(), today=TODAY)
    assert [f.rule_id for f in fixed] == [WEBINAR_NO_AUTO_RECORDING]
    assert [f.rule_id for f in still] == [WEBINAR_NOT_ON_DEMAND]

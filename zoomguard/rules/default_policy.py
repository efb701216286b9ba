"""The built-in profile written out as a policy file, derived from the catalogs.

``zoomguard/policies/default.toml`` is this text (a test holds it to that), so it never drifts
from the rules and baseline settings zoomguard actually has. After changing a catalog,
regenerate it with::

    python -m zoomguard.rules.default_policy > zoomguard/policies/default.toml
"""

from __future__ import annotations

import textwrap
from typing import Final

from zoomguard.rules.baseline_items import ITEMS
from zoomguard.rules.meeting_rules import CATALOG_RULES
from zoomguard.rules.profile import DEFAULT_RECORDINGS_LOOKBACK_DAYS, Profile

_WIDTH: Final = 96

_HEADER: Final = """\
# zoomguard policy: the built-in default profile, written out.
#
# Copy this file, change it, and point ZOOMGUARD_POLICY at the copy. Without a policy file
# zoomguard uses exactly these values. Any key left out keeps the value shown here; an unknown
# key or a bad value stops zoomguard with a message naming the key.
#
# Every rule comes from the CLBC interim guidance on video conferencing.
# (Generated from zoomguard/rules/meeting_rules.py, webinar_rules.py and baseline_items.py.)

# "enforce": fix what can be fixed and report the rest.
# "report":  find and report everything, change nothing in Zoom.
mode = "{mode}"

[rules]
"""

_EXEMPTIONS: Final = """\
# Exemptions the privacy officer has agreed to: a meeting ID or a host email, a reason, and the
# last day the exemption applies. An exempt meeting's findings are still reported; nothing in it
# is changed. After the expiry date the exemption no longer applies.
#
# [[exemptions]]
# meeting_id = "85746065432"
# reason = "Recorded training session, approved by the privacy officer"
# expires = 2027-01-31
#
# [[exemptions]]
# host_email = "trainer@example.org"
# reason = "Public webinars only, no individuals' information"
# expires = 2026-12-31
"""

_BASELINE_HEADER: Final = """\
[baseline]
# The account settings `zoomguard baseline` sets to the guidance's value and locks, so that
# groups and users cannot change them. `true` means "zoomguard keeps this setting at the
# guidance's value", never "the Zoom feature is on". Add mode = "report" here to give the
# baseline its own mode (it follows the mode above otherwise).
"""

_LIVE: Final = """
[live]
# When a cloud recording starts, zoomguard asks Zoom to stop it. Zoom lets only the meeting's
# host or an alternative host control a live meeting, so it may refuse. Then:
# "alert":       tell the privacy officer at once (naming the meeting and its host) and remove
#                the recording when it completes.
# "end_meeting": end the meeting (which ends its recording), then tell the privacy officer.
when_stop_refused = "{when_stop_refused}"
"""


def _comment(text: str) -> list[str]:
    return textwrap.wrap(
        text, _WIDTH, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False
    )


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"


def render_default_policy() -> str:
    """The policy file that loads as ``Profile()``, each key explained from its catalog entry."""
    profile = Profile()
    parts = [_HEADER.format(mode=profile.mode)]
    for rule in CATALOG_RULES.values():
        lines: list[str] = []
        if rule.default:
            lines += _comment(f'"{rule.guidance}"')
        else:
            lines += _comment(f'Optional, a stricter reading of "{rule.guidance}"')
        lines += _comment(f"Checks: {rule.checks_text}. Fix: {rule.fix_text}.")
        lines.append(f"{rule.id} = {_toml_bool(profile.enabled(rule.id))}")
        parts.append("\n".join(lines) + "\n\n")
    parts.append(_EXEMPTIONS + "\n")
    parts.append(_BASELINE_HEADER + "\n")
    for item in ITEMS.values():
        lines = _comment(f"{item.title}.") + _comment(f'"{item.guidance}"')
        lines.append(f"{item.id} = {_toml_bool(profile.baseline.enabled(item.id))}")
        parts.append("\n".join(lines) + "\n\n")
    parts.append(
        "# How far back `zoomguard baseline` looks for cloud recordings to clear out, in days.\n"
        f"recordings_lookback_days = {DEFAULT_RECORDINGS_LOOKBACK_DAYS}\n"
    )
    parts.append(_LIVE.format(when_stop_refused=profile.live.when_stop_refused))
    return "".join(parts)


if __name__ == "__main__":
    print(render_default_policy(), end="")

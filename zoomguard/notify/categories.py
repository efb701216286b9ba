"""What the privacy officer hears about, and how soon.

Every alert has a category. Categories in ``DEFAULT_IMMEDIATE`` are sent as soon as the outbox is
flushed, one email each, because a person may have to act within minutes (a recording, AI
Companion or a live stream is running, a file was sent in a meeting's chat, a fix did not take,
Zoom's daily update cap stopped zoomguard, an event was given up on). Every other category waits
for the digest: one email per finished sweep, and one per batch of webhook alerts, so a sweep
that fixes 300 meetings sends one email, not 300.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from zoomguard.errors import ConfigError
from zoomguard.zoom import webhook_events

Delivery = Literal["immediate", "digest"]

IMMEDIATE: Final = "immediate"
DIGEST: Final = "digest"

# A meeting broke a rule and zoomguard changed it (the re-read confirms it, or says it did not).
MEETING_FIXED: Final = "meeting.fixed"
# A meeting breaks a rule that zoomguard reports but does not change (report-only rule, dry run).
MEETING_REPORTED: Final = "meeting.reported"
# A meeting breaks a rule but carries an exemption the policy allows.
MEETING_EXEMPT: Final = "meeting.exempt"
# zoomguard tried to fix a meeting and Zoom refused, or the re-read shows the old value.
MEETING_FIX_FAILED: Final = "meeting.fix_failed"
# zoomguard stopped short of Zoom's cap of meeting updates per host per UTC day.
MEETING_UPDATE_CAP: Final = "meeting.update_cap"
# A meeting's topic or agenda looks like it names a person (SIN, birth date, full name).
MEETING_IDENTIFYING_INFORMATION: Final = "meeting.identifying_information"
# A cloud recording started in a meeting (zoomguard stops it where the policy says so). The two
# recording categories are named after the Zoom events that raise them.
RECORDING_STARTED: Final = webhook_events.RECORDING_STARTED
# A cloud recording finished (zoomguard trashes or deletes it where the policy says so).
RECORDING_COMPLETED: Final = webhook_events.RECORDING_COMPLETED
# AI Companion started in a live meeting (zoomguard stops and disables it).
AI_COMPANION_STARTED: Final = webhook_events.MEETING_AI_COMPANION_STARTED
# AI Companion wrote a meeting summary (zoomguard deletes it).
MEETING_SUMMARY_COMPLETED: Final = webhook_events.MEETING_SUMMARY_COMPLETED
# A meeting is being live streamed (zoomguard stops the stream).
LIVE_STREAMING_STARTED: Final = webhook_events.MEETING_LIVE_STREAMING_STARTED
# A file was sent in a meeting's chat: only a person can follow it up.
CHAT_FILE_SENT: Final = webhook_events.MEETING_CHAT_MESSAGE_FILE_SENT
# A webhook event failed every retry and was set aside: something may have been missed.
EVENT_DEAD: Final = "event.dead"
# A sweep ended without checking what it should (a scope missing, listings refused).
SWEEP_INCOMPLETE: Final = "sweep.incomplete"
# The account removed zoomguard's app (Zoom's app_deauthorized): nothing is enforced any more.
ACCOUNT_DEAUTHORIZED: Final = "account.deauthorized"
# zoomguard changed (or could not change) an account-level setting to the baseline.
SETTINGS_BASELINE: Final = "settings.baseline"
# zoomguard could not set or lock an account-level setting: new meetings may break the rule.
SETTINGS_BASELINE_FAILED: Final = "settings.baseline_failed"

ALL_CATEGORIES: Final[frozenset[str]] = frozenset(
    {
        MEETING_FIXED,
        MEETING_REPORTED,
        MEETING_EXEMPT,
        MEETING_FIX_FAILED,
        MEETING_UPDATE_CAP,
        MEETING_IDENTIFYING_INFORMATION,
        RECORDING_STARTED,
        RECORDING_COMPLETED,
        AI_COMPANION_STARTED,
        MEETING_SUMMARY_COMPLETED,
        LIVE_STREAMING_STARTED,
        CHAT_FILE_SENT,
        EVENT_DEAD,
        SWEEP_INCOMPLETE,
        ACCOUNT_DEAUTHORIZED,
        SETTINGS_BASELINE,
        SETTINGS_BASELINE_FAILED,
    }
)

DEFAULT_IMMEDIATE: Final[frozenset[str]] = frozenset(
    {
        RECORDING_STARTED,
        RECORDING_COMPLETED,
        AI_COMPANION_STARTED,
        MEETING_SUMMARY_COMPLETED,
        LIVE_STREAMING_STARTED,
        CHAT_FILE_SENT,
        MEETING_FIX_FAILED,
        MEETING_UPDATE_CAP,
        EVENT_DEAD,
        SWEEP_INCOMPLETE,
        ACCOUNT_DEAUTHORIZED,
        SETTINGS_BASELINE_FAILED,
    }
)

# Headings people read in the emails; the category string itself stays machine-readable.
CATEGORY_TITLES: Final[dict[str, str]] = {
    MEETING_FIXED: "Meeting corrected",
    MEETING_REPORTED: "Meeting breaks a rule (reported, not changed)",
    MEETING_EXEMPT: "Meeting exempt from a rule",
    MEETING_FIX_FAILED: "Meeting could not be corrected",
    MEETING_UPDATE_CAP: "Daily Zoom update limit reached",
    MEETING_IDENTIFYING_INFORMATION: "Possible identifying information in a meeting",
    RECORDING_STARTED: "A meeting is being recorded",
    RECORDING_COMPLETED: "A meeting was recorded",
    AI_COMPANION_STARTED: "AI Companion started in a meeting",
    MEETING_SUMMARY_COMPLETED: "AI Companion wrote a meeting summary",
    LIVE_STREAMING_STARTED: "A meeting is being live streamed",
    CHAT_FILE_SENT: "A file was sent in a meeting's chat",
    EVENT_DEAD: "A Zoom event could not be processed",
    SWEEP_INCOMPLETE: "A sweep could not check the account",
    ACCOUNT_DEAUTHORIZED: "zoomguard's Zoom app was removed from the account",
    SETTINGS_BASELINE: "Account setting changed",
    SETTINGS_BASELINE_FAILED: "Account setting could not be set or locked",
}


def category_title(category: str) -> str:
    return CATEGORY_TITLES.get(category, category.replace(".", ": ").replace("_", " ").capitalize())


def delivery_for(
    category: str, immediate_categories: frozenset[str] = DEFAULT_IMMEDIATE
) -> Delivery:
    """``"immediate"`` if the officer must hear about this category at once, else ``"digest"``."""
    return IMMEDIATE if category in immediate_categories else DIGEST


def parse_immediate_categories(
    text: str | None, *, variable: str = "ZOOMGUARD_ALERT_IMMEDIATE"
) -> frozenset[str]:
    """Reads a comma-separated list of categories (``none`` for none); unset means the default.

    Unknown names are a ``ConfigError`` naming the variable: a typo must not silently demote a
    recording alert to the digest.
    """
    if text is None or not text.strip():
        return DEFAULT_IMMEDIATE
    names = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if [n.lower() for n in names] == ["none"]:
        return frozenset()
    return validate_categories(names, variable=variable)


def validate_categories(names: Iterable[str], *, variable: str) -> frozenset[str]:
    unknown = sorted(set(names) - ALL_CATEGORIES)
    if unknown:
        raise ConfigError(
            f"{variable} names unknown alert categories {', '.join(unknown)}; "
            f"known: {', '.join(sorted(ALL_CATEGORIES))}"
        )
    return frozenset(names)

"""The policy file: which rules apply, in which mode, which meetings are exempt, and the baseline.

A profile is either the built-in default (``default_profile()``, written out as
``zoomguard/policies/default.toml``) or parsed from a TOML policy file by ``load_profile(text)``.
Pure like the rest of the policy: the caller reads the file, this module only parses text.
The keys of ``[rules]`` and ``[baseline]`` and their defaults come from the catalogs
(``meeting_rules.CATALOG_RULES``: meetings and webinars, ``baseline_items.ITEMS``).

The file's shape::

    mode = "enforce"            # or "report": find and tell, never change anything
    [rules]                     # any rule left out keeps its default
    passcode = true
    ...
    [[exemptions]]
    meeting_id = "85746065432"  # or host_email = "someone@example.org"
    reason = "why the privacy officer allowed it"
    expires = 2027-01-31        # last day the exemption applies
    [baseline]                  # account settings zoomguard sets and locks; any left out: on
    mode = "report"             # optional: the baseline's own mode (default: the file's mode)
    file_transfer = true
    ...
    recordings_lookback_days = 30
    [live]                      # what zoomguard does when Zoom refuses to stop a recording
    when_stop_refused = "alert" # or "end_meeting": end the meeting, then alert

Every mistake is a ``PolicyError`` whose message names the key, e.g.
``policy: rules.waiting_rom: unknown key``, so the operator sees one line that says what to fix.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Final, Literal, cast, get_args

from zoomguard.errors import PolicyError
from zoomguard.rules.baseline_items import BASELINE_DEFAULTS, DEFAULT_BASELINE_ITEMS
from zoomguard.rules.meeting_rules import CATALOG_RULES

Mode = Literal["enforce", "report"]
MODES: Final[tuple[str, ...]] = get_args(Mode)

# Every rule a policy file may switch, in the order findings are listed, with its default: read
# from the catalogs, never written again here.
RULE_DEFAULTS: Final[Mapping[str, bool]] = MappingProxyType(
    {rule.id: rule.default for rule in CATALOG_RULES.values()}
)
DEFAULT_RULES: Final[frozenset[str]] = frozenset(k for k, on in RULE_DEFAULTS.items() if on)

DEFAULT_RECORDINGS_LOOKBACK_DAYS: Final = 30
# Each look-back costs one request per user per 28 days (Zoom's window limit): ten years at most.
MAX_RECORDINGS_LOOKBACK_DAYS: Final = 3650

# Top-level keys a policy file may hold; anything else is an error, so a typo never passes.
_TOP_LEVEL_KEYS: Final = ("mode", "rules", "exemptions", "baseline", "live")

# What zoomguard does when Zoom refuses to stop a live cloud recording (Zoom lets only the
# meeting's host or an alternative host control a live meeting).
WhenStopRefused = Literal["alert", "end_meeting"]
WHEN_STOP_REFUSED: Final[tuple[str, ...]] = get_args(WhenStopRefused)
_EXEMPTION_KEYS: Final = ("meeting_id", "host_email", "reason", "expires")

_MEETING_ID = re.compile(r"\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def normalise_meeting_id(value: str) -> str:
    """Zoom shows meeting IDs grouped ("857 4606 5432"); compare them as bare digits."""
    return re.sub(r"[\s-]", "", value)


@dataclass(frozen=True, kw_only=True)
class Exemption:
    """A meeting (by ID) or a host (by email) the privacy officer allowed to break the rules.

    ``expires`` is the last day the exemption applies: on the day after, it no longer does.
    """

    meeting_id: str | None = None
    host_email: str | None = None
    reason: str
    expires: date

    def __post_init__(self) -> None:
        if (self.meeting_id is None) == (self.host_email is None):
            raise ValueError("an exemption names exactly one of meeting_id or host_email")
        # Normalised once here so matching is a plain comparison.
        if self.meeting_id is not None:
            object.__setattr__(self, "meeting_id", normalise_meeting_id(self.meeting_id))
        if self.host_email is not None:
            object.__setattr__(self, "host_email", self.host_email.strip().lower())

    def active_on(self, today: date) -> bool:
        return today <= self.expires

    def applies_to(self, meeting_id: str, host_email: str | None) -> bool:
        if self.meeting_id is not None:
            return self.meeting_id == normalise_meeting_id(meeting_id)
        return host_email is not None and self.host_email == host_email.strip().lower()


@dataclass(frozen=True)
class Baseline:
    """The account-settings baseline: which items are kept and locked, and in which mode.

    ``mode`` None follows the profile's mode, so ``mode = "report"`` at the top of a policy file
    keeps zoomguard from changing anything at all unless the baseline says otherwise.
    """

    items: frozenset[str] = DEFAULT_BASELINE_ITEMS
    mode: Mode | None = None
    recordings_lookback_days: int = DEFAULT_RECORDINGS_LOOKBACK_DAYS

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        unknown = sorted(set(self.items) - set(BASELINE_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown baseline items: {', '.join(unknown)}")
        if not 1 <= self.recordings_lookback_days <= MAX_RECORDINGS_LOOKBACK_DAYS:
            raise ValueError(
                f"recordings_lookback_days must be 1 to {MAX_RECORDINGS_LOOKBACK_DAYS}, "
                f"got {self.recordings_lookback_days}"
            )

    def enabled(self, item_id: str) -> bool:
        return item_id in self.items


@dataclass(frozen=True)
class LiveControl:
    """The ``[live]`` table: the escalation when a live recording cannot be stopped.

    "alert": tell the officer at once and remove the recording when it completes;
    "end_meeting": end the meeting (which stops its recording), then tell the officer."""

    when_stop_refused: WhenStopRefused = "alert"

    def __post_init__(self) -> None:
        if self.when_stop_refused not in WHEN_STOP_REFUSED:
            raise ValueError(
                f"when_stop_refused must be one of {', '.join(WHEN_STOP_REFUSED)}, "
                f"got {self.when_stop_refused!r}"
            )


@dataclass(frozen=True)
class Profile:
    """The rules in force, the mode, the exemptions and the account-settings baseline."""

    mode: Mode = "enforce"
    rules: frozenset[str] = DEFAULT_RULES
    exemptions: tuple[Exemption, ...] = ()
    baseline: Baseline = Baseline()
    live: LiveControl = LiveControl()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        unknown = sorted(set(self.rules) - set(RULE_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown rule ids: {', '.join(unknown)}")

    def enabled(self, rule_id: str) -> bool:
        return rule_id in self.rules

    @property
    def baseline_mode(self) -> Mode:
        """The mode of the baseline: its own if the policy file gives one, else the profile's."""
        return self.baseline.mode if self.baseline.mode is not None else self.mode

    def exemption_for(
        self, meeting_id: str, host_email: str | None, *, today: date
    ) -> Exemption | None:
        """The exemption that applies on ``today``; one naming the meeting wins over a host's."""
        active = [e for e in self.exemptions if e.active_on(today)]
        by_meeting = [e for e in active if e.meeting_id is not None]
        by_host = [e for e in active if e.host_email is not None]
        for exemption in (*by_meeting, *by_host):
            if exemption.applies_to(meeting_id, host_email):
                return exemption
        return None


def default_profile() -> Profile:
    """The built-in profile: the guidance's rules on, enforced, no exemptions."""
    return Profile()


def load_profile(text: str) -> Profile:
    """Parse a TOML policy file's text. Raises ``PolicyError`` naming the offending key."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy: not valid TOML: {exc}") from None
    for key in document:
        if key not in _TOP_LEVEL_KEYS:
            raise PolicyError(f"policy: {key}: unknown key")
    return Profile(
        mode=_mode(document.get("mode", "enforce")),
        rules=_rules(document.get("rules", {})),
        exemptions=_exemptions(document.get("exemptions", [])),
        baseline=_baseline(document.get("baseline", {})),
        live=_live(document.get("live", {})),
    )


def _mode(value: Any, *, where: str = "mode") -> Mode:
    if not isinstance(value, str) or value not in MODES:
        choices = " or ".join(f'"{m}"' for m in MODES)
        raise PolicyError(f"policy: {where}: must be {choices}, got {_show(value)}")
    return cast(Mode, value)


def _rules(table: Any) -> frozenset[str]:
    if not isinstance(table, dict):
        raise PolicyError(f"policy: rules: must be a table, got {_show(table)}")
    enabled = dict(RULE_DEFAULTS)
    for key, value in table.items():
        if key not in RULE_DEFAULTS:
            raise PolicyError(f"policy: rules.{key}: unknown key")
        if not isinstance(value, bool):
            raise PolicyError(f"policy: rules.{key}: must be true or false, got {_show(value)}")
        enabled[key] = value
    return frozenset(k for k, on in enabled.items() if on)


def _baseline(table: Any) -> Baseline:
    if not isinstance(table, dict):
        raise PolicyError(f"policy: baseline: must be a table, got {_show(table)}")
    enabled = dict(BASELINE_DEFAULTS)
    mode: Mode | None = None
    lookback = DEFAULT_RECORDINGS_LOOKBACK_DAYS
    for key, value in table.items():
        if key == "mode":
            mode = _mode(value, where="baseline.mode")
        elif key == "recordings_lookback_days":
            lookback = _lookback_days(value)
        elif key in BASELINE_DEFAULTS:
            if not isinstance(value, bool):
                raise PolicyError(
                    f"policy: baseline.{key}: must be true or false, got {_show(value)}"
                )
            enabled[key] = value
        else:
            raise PolicyError(f"policy: baseline.{key}: unknown key")
    return Baseline(
        items=frozenset(k for k, on in enabled.items() if on),
        mode=mode,
        recordings_lookback_days=lookback,
    )


def _live(table: Any) -> LiveControl:
    if not isinstance(table, dict):
        raise PolicyError(f"policy: live: must be a table, got {_show(table)}")
    for key in table:
        if key != "when_stop_refused":
            raise PolicyError(f"policy: live.{key}: unknown key")
    value = table.get("when_stop_refused", LiveControl.when_stop_refused)
    if not isinstance(value, str) or value not in WHEN_STOP_REFUSED:
        choices = " or ".join(f'"{v}"' for v in WHEN_STOP_REFUSED)
        raise PolicyError(f"policy: live.when_stop_refused: must be {choices}, got {_show(value)}")
    return LiveControl(when_stop_refused=cast(WhenStopRefused, value))


def _lookback_days(value: Any) -> int:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 1 <= value <= MAX_RECORDINGS_LOOKBACK_DAYS
    ):
        return value
    raise PolicyError(
        f"policy: baseline.recordings_lookback_days: must be a whole number of days from 1 to "
        f"{MAX_RECORDINGS_LOOKBACK_DAYS}, got {_show(value)}"
    )


def _exemptions(items: Any) -> tuple[Exemption, ...]:
    if not isinstance(items, list):
        raise PolicyError(
            f"policy: exemptions: must be an array of tables ([[exemptions]]), got {_show(items)}"
        )
    return tuple(_exemption(f"exemptions[{i}]", item) for i, item in enumerate(items))


def _exemption(where: str, item: Any) -> Exemption:
    if not isinstance(item, dict):
        raise PolicyError(f"policy: {where}: must be a table, got {_show(item)}")
    for key in item:
        if key not in _EXEMPTION_KEYS:
            raise PolicyError(f"policy: {where}.{key}: unknown key")
    has_meeting, has_host = "meeting_id" in item, "host_email" in item
    if has_meeting == has_host:
        raise PolicyError(f"policy: {where}: needs exactly one of meeting_id or host_email")
    meeting_id = _exempt_meeting_id(where, item["meeting_id"]) if has_meeting else None
    host_email = _exempt_host_email(where, item["host_email"]) if has_host else None
    if "reason" not in item:
        raise PolicyError(f"policy: {where}.reason: missing (say why the meeting is exempt)")
    reason = item["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise PolicyError(f"policy: {where}.reason: must be a non-empty string")
    if "expires" not in item:
        raise PolicyError(f"policy: {where}.expires: missing (a date such as 2027-01-31)")
    return Exemption(
        meeting_id=meeting_id,
        host_email=host_email,
        reason=reason.strip(),
        expires=_expires(where, item["expires"]),
    )


def _exempt_meeting_id(where: str, value: Any) -> str:
    # TOML users write the ID bare (an integer) as often as quoted; both mean the same.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and _MEETING_ID.fullmatch(normalise_meeting_id(value)):
        return normalise_meeting_id(value)
    raise PolicyError(f"policy: {where}.meeting_id: must be a Zoom meeting ID, got {_show(value)}")


def _exempt_host_email(where: str, value: Any) -> str:
    if isinstance(value, str) and _EMAIL.fullmatch(value.strip()):
        return value.strip().lower()
    raise PolicyError(f"policy: {where}.host_email: must be an email address, got {_show(value)}")


def _expires(where: str, value: Any) -> date:
    # datetime is a subclass of date: an expiry at a time of day is not what we mean.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PolicyError(
        f"policy: {where}.expires: must be a date such as 2027-01-31, got {_show(value)}"
    )


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)

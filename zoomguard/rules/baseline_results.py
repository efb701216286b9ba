"""The account baseline's results: what happened to each setting and recording, and the summary.

PURE values and text, built by ``zoomguard.rules.baseline.settle`` and the baseline service;
``render_summary`` is what ``zoomguard baseline`` prints. No value here is ever a passcode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from zoomguard.rules.baseline_items import ACCOUNT, CANADA_REGION, ITEMS, RULE_PREFIX, Item
from zoomguard.rules.profile import Mode
from zoomguard.rules.rule_types import JSONScalar

Status = Literal["ok", "fixed", "failed", "reported"]
OK: Final = "ok"
FIXED: Final = "fixed"
FAILED: Final = "failed"
REPORTED: Final = "reported"

# The rule id of a cloud recording found on the account (see zoomguard.service.baseline).
RECORDING_RULE_ID: Final = "baseline.cloud_recording_kept"


@dataclass(frozen=True)
class SettingResult:
    """What happened to one baseline item at one target. No value here is ever a passcode."""

    target: str
    target_name: str | None  # the group's name or the user's email
    item_id: str
    field: str
    desired: JSONScalar
    actual: JSONScalar  # before
    after: JSONScalar  # re-read after the fix; None when nothing was re-read
    locked_before: bool | None
    locked_after: bool | None
    status: Status
    detail: str | None = None

    @property
    def rule_id(self) -> str:
        return RULE_PREFIX + self.item_id

    @property
    def item(self) -> Item:
        return ITEMS[self.item_id]

    @property
    def level(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def enforcement(self) -> str:
        """Whether the rule is enforced at the source (locked) or repaired after the fact."""
        if self.item.portal is not None:
            return "set by a person in Zoom's web portal"
        locked = self.locked_after if self.locked_after is not None else self.locked_before
        if locked:
            return "locked at the source"
        if not self.item.lockable:
            return "cannot be locked: repaired after the fact"
        return "not locked: repaired after the fact"

    @property
    def status_text(self) -> str:
        if self.status == FIXED:
            return "fixed and locked" if self.locked_after else "fixed"
        return self.status


@dataclass(frozen=True)
class RecordingResult:
    """One meeting instance's cloud recording found within the look-back."""

    meeting_id: str
    uuid: str
    host_id: str | None
    host_email: str | None
    topic: str | None  # redacted
    start_time: str | None
    files: int
    total_size: int
    action: str  # trashed | deleted | reported | failed | gone (removed by someone else)
    detail: str | None = None


@dataclass(frozen=True)
class BaselineResult:
    """One baseline run (or re-check) of one account."""

    account: str
    mode: Mode
    dry_run: bool
    scope: str  # "account" for a full run, else the target re-checked
    settings: tuple[SettingResult, ...] = ()
    recordings: tuple[RecordingResult, ...] = ()
    recordings_checked: bool = False
    patches: int = 0
    errors: tuple[str, ...] = ()
    # The account's data-centre regions (``in_meeting.data_center_regions``), reported whether
    # or not the policy requires Canada's; None when Zoom did not say (or not a full run).
    data_center_regions: tuple[str, ...] | None = None

    def count(self, status: str) -> int:
        return sum(1 for s in self.settings if s.status == status)

    @property
    def deviations(self) -> tuple[SettingResult, ...]:
        return tuple(s for s in self.settings if s.status != OK)

    @property
    def changed_anything(self) -> bool:
        """Whether zoomguard changed anything in Zoom (a PATCH, a trashed recording)."""
        return self.patches > 0 or any(r.action in ("trashed", "deleted") for r in self.recordings)

    @property
    def compliant(self) -> bool:
        return not self.errors and all(s.status in (OK, FIXED) for s in self.settings)


def _show(value: JSONScalar) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value == "":
        return "(empty)"
    return str(value)


def _lock_text(before: bool | None, after: bool | None) -> str:
    def one(value: bool | None) -> str:
        return "-" if value is None else ("yes" if value else "no")

    if before == after:
        return one(before)
    return f"{one(before)} -> {one(after)}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    return lines


def render_summary(result: BaselineResult) -> str:
    """A short text summary: the account's settings, the deviating groups and users, the
    recordings, and which rules are locked at the source versus only repaired after the fact."""
    mode = result.mode + (" (dry run: nothing changed)" if result.dry_run else "")
    lines = [f"Zoom account baseline for {result.account}: {mode}"]
    account_rows = [s for s in result.settings if s.level == ACCOUNT]
    if account_rows:
        lines.append("")
        rows = [
            (
                s.item_id,
                _show(s.desired),
                _show(s.actual),
                _lock_text(s.locked_before, s.locked_after),
                s.status_text,
            )
            for s in account_rows
        ]
        lines.extend(_table(("account setting", "desired", "was", "locked", "status"), rows))
    below = [s for s in result.deviations if s.level != ACCOUNT]
    if below:
        lines.append("")
        lines.append("Groups and users that deviated:")
        rows = [
            (
                f"{s.target}" + (f" ({s.target_name})" if s.target_name else ""),
                s.item_id,
                _show(s.actual),
                s.status_text,
                s.detail or "",
            )
            for s in below
        ]
        lines.extend(_table(("target", "setting", "was", "status", "detail"), rows))
    elif result.scope == ACCOUNT:
        lines.append("")
        lines.append("No group or user deviated from the baseline.")
    failed = [s for s in result.settings if s.status == FAILED]
    for s in failed:
        lines.append(f"FAILED {s.target} {s.item_id}: {s.detail}")
    for s in result.settings:
        if s.status == REPORTED and s.item.portal is not None:
            lines.append(f"FOR A PERSON {s.target} {s.item_id}: {s.detail}")
    if result.data_center_regions is not None:
        lines.append("")
        lines.append(data_center_line(result.data_center_regions))
    lines.append("")
    lines.extend(_enforcement_lines(result))
    if result.recordings_checked:
        lines.append("")
        lines.extend(_recording_lines(result.recordings))
    for error in result.errors:
        lines.append(f"ERROR {error}")
    lines.append(
        f"Zoom settings updated (PATCH): {result.patches}; "
        f"{'changes were made' if result.changed_anything else 'nothing was changed in Zoom'}."
    )
    return "\n".join(lines)


def data_center_line(regions: Sequence[str]) -> str:
    """The account's data-centre regions, as the baseline and the dashboard report them."""
    tell = "participants are to be told their information may be stored outside Canada"
    if not regions:
        return f"Data-centre regions for meetings: Zoom's defaults, not chosen ({tell})"
    canada = "included" if CANADA_REGION in regions else "not included"
    return f"Data-centre regions for meetings: {', '.join(regions)} (Canada's {canada}; {tell})"


def _enforcement_lines(result: BaselineResult) -> list[str]:
    account = {s.item_id: s for s in result.settings if s.level == ACCOUNT}
    locked = [i for i, s in account.items() if s.enforcement == "locked at the source"]
    by_hand = [i for i, s in account.items() if s.item.portal is not None]
    repaired = sorted(
        {
            s.item_id
            for s in result.settings
            if s.item_id not in locked and s.item_id not in by_hand and s.status != OK
        }
        | {i for i in account if i not in locked and i not in by_hand}
    )
    lines = [
        "Locked at the source (groups and users cannot change them): "
        + (", ".join(locked) if locked else "none")
    ]
    if repaired:
        lines.append("Only repaired after the fact (not locked): " + ", ".join(repaired))
    if by_hand:
        lines.append(
            "Set by a person in Zoom's web portal (Zoom's API cannot set them): "
            + ", ".join(by_hand)
        )
    return lines


def _recording_lines(recordings: tuple[RecordingResult, ...]) -> list[str]:
    if not recordings:
        return ["Cloud recordings within the look-back: none."]
    counts: dict[str, int] = {}
    for r in recordings:
        counts[r.action] = counts.get(r.action, 0) + 1
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    lines = [f"Cloud recordings within the look-back: {len(recordings)} ({summary})"]
    for r in recordings:
        who = r.host_email or r.host_id or "unknown host"
        extra = f": {r.detail}" if r.detail else ""
        lines.append(f"  meeting {r.meeting_id} ({who}, {r.start_time or '?'}) {r.action}{extra}")
    return lines

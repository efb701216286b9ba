"""What processing one meeting decided: the value enforce produces and alerts describe.

Its own module so that ``enforce`` (which makes it) and ``alerts`` (which reads it) both depend
on it and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoomguard.rules import policy
from zoomguard.service.failures import FixFailure


@dataclass(frozen=True)
class MeetingOutcome:
    """What one meeting's processing decided; written to the store in one transaction."""

    evaluation: policy.Evaluation
    statuses: dict[str, str]  # rule_id -> fixed | failed | exempt | reported
    details: dict[str, str | None]
    after: dict[str, Any]  # rule_id -> value re-read after the PATCH
    patched: bool
    confirmed: bool | None
    before_values: dict[str, Any]
    after_values: dict[str, Any]
    start_time: str | None
    # rule_id -> why it failed, for every rule whose status is "failed".
    failures: dict[str, FixFailure] = field(default_factory=dict)
    # The audit intent written before the PATCH, completed when this outcome is recorded.
    intent_id: int | None = None

"""Use cases: the only package that combines zoom, store, notify and policy.

common   clock, process identity, profile loading, clients, accounts to act on
enforce  one meeting: evaluate, fix once, re-read, record
outcome  what processing one meeting decided (made by enforce, read by alerts)
sweep    sweep one account: list users and meetings concurrently, enforce each
alerts   what the privacy officer is told about each finding
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoomguard.errors import SweepBusy
    from zoomguard.service.clients import (
        accounts_to_sweep,
        client_for_account,
        connect_s2s,
        env_account,
        holder_id,
        load_profile,
        utcnow,
    )
    from zoomguard.service.enforce import MeetingEnforcer
    from zoomguard.service.outcome import MeetingOutcome
    from zoomguard.service.sweep import Sweeper, SweepProgress, SweepResult

# Where each name lives, loaded on first use (PEP 562): a command can import the light modules
# (clients, connect) and start its first request while the rules, the enforcer and the alerts,
# which it needs only when the first meeting arrives, are still being imported.
_HOMES = {
    "SweepBusy": "zoomguard.errors",
    "accounts_to_sweep": "zoomguard.service.clients",
    "client_for_account": "zoomguard.service.clients",
    "connect_s2s": "zoomguard.service.clients",
    "env_account": "zoomguard.service.clients",
    "holder_id": "zoomguard.service.clients",
    "load_profile": "zoomguard.service.clients",
    "utcnow": "zoomguard.service.clients",
    "MeetingEnforcer": "zoomguard.service.enforce",
    "MeetingOutcome": "zoomguard.service.outcome",
    "Sweeper": "zoomguard.service.sweep",
    "SweepProgress": "zoomguard.service.sweep",
    "SweepResult": "zoomguard.service.sweep",
}

__all__ = [
    "MeetingEnforcer",
    "MeetingOutcome",
    "SweepBusy",
    "SweepProgress",
    "SweepResult",
    "Sweeper",
    "accounts_to_sweep",
    "client_for_account",
    "connect_s2s",
    "env_account",
    "holder_id",
    "load_profile",
    "utcnow",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups do not come here again
    return value

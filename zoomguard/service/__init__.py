"""Use cases: the only package that combines zoom, store, notify and policy.

common   clock, process identity, profile loading, clients, accounts to act on
enforce  one meeting: evaluate, fix once, re-read, record
outcome  what processing one meeting decided (made by enforce, read by alerts)
sweep    sweep one account: list users and meetings concurrently, enforce each
alerts   what the privacy officer is told about each finding
"""

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
from zoomguard.service.sweep import SweepBusy, Sweeper, SweepProgress, SweepResult

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

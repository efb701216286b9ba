"""The account baseline use case: the account's own settings set and locked at the source, and
existing cloud recordings cleared out.

settings    ``BaselineRunner`` (a full run, or ``recheck`` of one target) and ``recheck_baseline``
recordings  ``RecordingCleaner``: finding and removing existing cloud recordings
common      what both share in one run: lease, open findings, errors, thread pool, ``Target``
wording     the officer's alert for a setting or a recording: category and details
"""

from zoomguard.service.baseline.common import (
    BASELINE_LEASE_SECONDS,
    DEFAULT_ACTOR,
    BaselineBusy,
    Scope,
)
from zoomguard.service.baseline.recordings import RecordingCleaner
from zoomguard.service.baseline.settings import BaselineRunner, recheck_baseline

__all__ = [
    "BASELINE_LEASE_SECONDS",
    "DEFAULT_ACTOR",
    "BaselineBusy",
    "BaselineRunner",
    "RecordingCleaner",
    "Scope",
    "recheck_baseline",
]

"""Why zoomguard could not fix a meeting, as a value: the alert's category is chosen from it
(``zoomguard.service.alerts.alert_category``), never from the wording of the detail."""

from __future__ import annotations

import enum


class FixFailure(enum.Enum):
    # The host's meeting updates for this UTC day are used up (zoomguard's budget or Zoom's cap).
    UPDATE_CAP = "update_cap"
    # Zoom's rate limit answered, for a reason other than the daily cap.
    RATE_LIMITED = "rate_limited"
    # The meeting was deleted before the fix could be sent or confirmed.
    MEETING_GONE = "meeting_gone"
    # Zoom refused the PATCH.
    REFUSED = "refused"
    # Zoom accepted the PATCH but kept the old value (a lock or Zoom's own security rule).
    OVERRIDDEN = "overridden"

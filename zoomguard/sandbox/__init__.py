"""A local stand-in for the parts of Zoom zoomguard uses, faithful to Zoom's OpenAPI documents.

    from zoomguard.sandbox import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(users=5, meetings=50, webhook_url=url)) as server:
        env = server.env()          # points zoomguard at the sandbox
        server.state.start_recording(meeting_id)   # script the account directly

Modules: config (SandboxConfig), state (SandboxState: data, scripting, logs), live (meetings
start, record and end; recordings; webhook events and their delivery log), generator
(deterministic data), settings (account/group/user settings and locks), meetings and model
(Zoom's JSON shapes), oauth, ratelimit, webhooks (signed delivery with retries), api (the /v2
route table) with replies (shared reply helpers), api_meetings, api_recordings and api_accounts
(users, groups, settings), occurrences (per-occurrence settings of recurring meetings),
passcodes (the passcode requirement), control (/_sandbox endpoints), app (the WSGI app), server
(SandboxServer), cli, scopes (the scopes each operation requires, from Zoom's documents),
french (Zoom's error messages in French).

Strict as Zoom by default, each strictness a switch in ``SandboxConfig``:

- ``enforce_scopes``: every /v2 operation requires one of the scopes its OpenAPI entry lists
  (``scopes.OPERATION_SCOPES``); tokens carry what the app registration grants
  (``SandboxConfig.scopes``, returned as the token response's ``scope``). Otherwise HTTP 400,
  code 4711, "Invalid access token, does not contain scopes:[…]".
- ``page_token_ttl_seconds``: next_page_token values expire (Zoom: 15 minutes), then HTTP 400,
  code 300.
- ``language = "fr"``: every error message in French, codes, statuses and headers unchanged.

Strict by default (each a ``SandboxConfig`` switch, so a test can show what a laxer Zoom would
hide): ``live_controls_host_only`` (in-meeting controls only for the meeting's host or an
alternative host; a Server-to-Server token acts as ``app_creator_id``, else the owner),
``enforce_passcode_requirement`` (every meeting create and PATCH meets the host's
``meeting_password_requirement``), ``waiting_room_disables_join_before_host``.

Where it differs from Zoom, and why:

- Latency: one configured delay (``latency_ms`` plus a uniform ``latency_jitter_ms``) is spent
  before the request is counted and handled, none on the way back. Zoom's round trip is split
  between both ways; putting all of it first is the stricter case for rate limits (requests
  sent evenly arrive as bunched as the jitter makes them) and costs the client the same time.
- Per-second limits: a sliding one-second window per category, counted on arrival, 429s not
  counted. Arrival is when the modelled network delivers the request (read + latency +
  jitter), not when the sandbox's thread gets to count it: its threads share one interpreter
  lock, and their scheduling (a few milliseconds, more under load) would bunch arrivals in a
  way Zoom's network does not; a request counted out of order is judged against the later
  arrivals too (the stricter reading). Zoom does not document its window; the sliding one is
  the strictest reading. Its Retry-After is whole seconds (at least 1) until a slot frees,
  with ``X-RateLimit-Type: QPS``.
- Daily limits: only the per-user meeting create/update cap (100 per UTC day); the account's
  daily limits for heavy APIs are not modelled (zoomguard calls none).
- Request log ``received_at`` is when the sandbox read the request, before its latency, so
  reaction times measured with it do not include the simulated network delay.
- Connections: kept alive between requests, as Zoom's API does, when the request's length is
  known from Content-Length (werkzeug's own server closes every connection; server.py's
  handler keeps them). A chunked request or ``Connection: close`` from the client ends the
  connection after its answer. Idle connections are never closed by the sandbox (Zoom's
  front ends close them after an unspecified idle time, which urllib3 notices before reuse).
- Refused in-meeting controls: HTTP 400 with ``{"code": 200, "message": "No permission."}``,
  what a library author got from Zoom for another host's meeting; the OpenAPI document lists
  "No permission." under code 300. Whether an admin's Server-to-Server app may control other
  hosts' meetings is not documented: the sandbox takes the document's word (host or
  alternative host only), the stricter reading.
- A passcode that breaks the requirement: HTTP 400, code 300 and a sentence naming the rule.
  Zoom documents no code for it (users report a bad request); 300 is its code for an invalid
  field. A requirement object PATCHed without some fields gets their no-requirement values
  (Zoom's merge of a partial object is not documented).
- Occurrences: a PATCH of the series leaves an occurrence's own settings as they are (the
  stricter reading: such an occurrence is fixed only through its ``occurrence_id``). An
  unknown ``occurrence_id`` answers 404, code 3001. A series' GET lists only occurrences that
  have not ended, as Zoom does without ``show_previous_occurrences``.
- Waiting room options: validated and kept per meeting. A meeting has them only once a create
  or PATCH set them (the generator never does): until then its GET carries no
  ``waiting_room_options`` at all, which zoomguard reads as following the host's setting (the
  stricter reading: Zoom's document defines the modes, not an absent object, nor when Zoom
  omits it). An
  occurrence never has its own (a PATCH ``?occurrence_id=`` with them is refused); its GET
  shows the series'. Whom the waiting room holds under
  ``follow_setting`` is ``participants_to_place_in_waiting_room`` of
  ``meeting_security.waiting_room_settings`` on the account, a group or a user (0 everyone,
  the default; 1 or 2 outsiders only), read
  and set through the settings endpoints (``?option=meeting_security``) and inherited like
  the other settings (``state.settings.patch_user(...,
  {"participants_to_place_in_waiting_room": 1})``); nobody joins a sandbox meeting, so it
  changes what the settings say, not who waits.
- Webinars (webinars, webinar_state, api_webinars): list, get, PATCH and delete only, never
  generated (tests add them with ``state.add_webinar``). Zoom's documents give no example
  payloads for these endpoints; the webhook objects follow the webinar.* examples. A webinar
  PATCH is validated as a meeting's, but account and group locks and Zoom's forced security are
  not applied to webinars, and Zoom's own webinar.updated example lacks the ``time_stamp`` its
  schema requires (the sandbox sends it). ``webinar_plan=False`` answers every webinar endpoint
  with HTTP 400, code 200, which Zoom's document also uses for "No permission".
- Data: generated deterministically from ``seed``; only the endpoints and fields zoomguard uses
  exist, shaped as in Zoom's OpenAPI documents (tests check responses against them).
- Scopes: the refusal names the operation's granular scopes, as a granular app sees it; Zoom's
  wording for classic apps (which name classic scopes) is not reproduced. Tokens never carry
  classic scopes (new Server-to-Server apps cannot pick them), though they are accepted.
- Webhook subscriptions are not checked against scopes: the sandbox delivers every event to the
  one configured URL (Zoom requires the event's scope to subscribe at all).
- Page tokens expire on the sandbox's monotonic clock, and the whole set a token was issued
  for is pinned (Zoom's exact behaviour for items changed between pages is undocumented).
- French: messages the sandbox knows are translated; any other becomes one generic French
  sentence with the code (Zoom translates each message).
- Webhook retries keep the body and ``x-zm-request-id`` and are signed anew with a new
  ``x-zm-request-timestamp``, as Zoom's are; their delays are scaled by ``webhook_time_scale``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoomguard.sandbox.config import SandboxConfig
    from zoomguard.sandbox.server import SandboxServer
    from zoomguard.sandbox.state import SandboxState

__all__ = ["SandboxConfig", "SandboxServer", "SandboxState"]

# Loaded on first use (PEP 562): `zoomguard` registers the `sandbox` command, whose module
# imports sandbox.config, and must not pay for the server and its handlers (0.25 s) on every
# other command.
_LAZY = {
    "SandboxConfig": "zoomguard.sandbox.config",
    "SandboxServer": "zoomguard.sandbox.server",
    "SandboxState": "zoomguard.sandbox.state",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

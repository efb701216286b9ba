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
(users, groups, settings), control (/_sandbox endpoints), app (the WSGI app), server
(SandboxServer), cli.
"""

from zoomguard.sandbox.config import SandboxConfig
from zoomguard.sandbox.server import SandboxServer
from zoomguard.sandbox.state import SandboxState

__all__ = ["SandboxConfig", "SandboxServer", "SandboxState"]

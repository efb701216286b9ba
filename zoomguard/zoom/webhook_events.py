"""The names of the Zoom webhook events zoomguard reacts to, each written here and nowhere else.

Which of them zoomguard handles, how urgently and with what alert is declared by the handlers
(``zoomguard.service.events``); the inbox, the worker and the README derive from those
declarations. The names live in this standard-library-only module because ``zoomguard.notify``
names alert categories after them and may not import the service. ``zoomguard.sandbox`` plays
Zoom and keeps its own spelling on purpose: it must not change when ours does.
"""

from __future__ import annotations

from typing import Final

MEETING_CREATED: Final = "meeting.created"
MEETING_UPDATED: Final = "meeting.updated"
MEETING_DELETED: Final = "meeting.deleted"
# Zoom's "a participant joined / is waiting before the host".
MEETING_PARTICIPANT_JBH_JOINED: Final = "meeting.participant_jbh_joined"
MEETING_PARTICIPANT_JBH_WAITING: Final = "meeting.participant_jbh_waiting"
# Records of a meeting other than its recording: AI Companion, its summary, a live stream, a
# file sent in the meeting chat.
MEETING_AI_COMPANION_STARTED: Final = "meeting.ai_companion_started"
MEETING_SUMMARY_COMPLETED: Final = "meeting.summary_completed"
MEETING_LIVE_STREAMING_STARTED: Final = "meeting.live_streaming_started"
MEETING_CHAT_MESSAGE_FILE_SENT: Final = "meeting.chat_message_file_sent"

WEBINAR_CREATED: Final = "webinar.created"
WEBINAR_UPDATED: Final = "webinar.updated"
WEBINAR_DELETED: Final = "webinar.deleted"

RECORDING_STARTED: Final = "recording.started"
RECORDING_RESUMED: Final = "recording.resumed"
RECORDING_COMPLETED: Final = "recording.completed"
RECORDING_TRANSCRIPT_COMPLETED: Final = "recording.transcript_completed"
RECORDING_RECOVERED: Final = "recording.recovered"

ACCOUNT_SETTINGS_UPDATED: Final = "account.settings_updated"
ACCOUNT_LOCK_SETTINGS_UPDATED: Final = "account.lock_settings_updated"
GROUP_SETTINGS_UPDATED: Final = "group.settings_updated"
GROUP_LOCK_SETTINGS_UPDATED: Final = "group.lock_settings_updated"
USER_SETTINGS_UPDATED: Final = "user.settings_updated"

# Sent to OAuth apps when an account removes the app.
APP_DEAUTHORIZED: Final = "app_deauthorized"

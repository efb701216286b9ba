"""The records a live meeting leaves besides its cloud recording, as Zoom keeps them today: AI
Companion (questions and summary), its meeting summary, a live stream, a paused and resumed
recording, a recording recovered from the trash, a transcript, and a file sent in the meeting
chat. Each change is a webhook event shaped like the example payload of Zoom's webhook document.

``RecordsScenario`` extends ``LiveScenario`` and is a base class of ``SandboxState``; the
summaries it keeps (``summaries``, by meeting instance UUID) are created there.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from zoomguard.sandbox import meetings as mtg
from zoomguard.sandbox.live import LiveScenario, now_utc
from zoomguard.sandbox.model import LiveMeeting, Recording, RecordingFile, iso

AI_COMPANION_FEATURES = ("questions", "summary")


class RecordsScenario(LiveScenario):
    summaries: dict[str, dict[str, Any]]

    # -- AI Companion -------------------------------------------------------------------------

    def _ai_companion_object(self, live: LiveMeeting) -> dict[str, Any]:
        meeting = self.meetings[live.meeting_id]
        return {
            "meeting_number": live.meeting_id,
            "meeting_uuid": live.uuid,
            "host_id": meeting["host_id"],
            "ai_companion": {f: f in live.ai_companion_features for f in AI_COMPANION_FEATURES},
        }

    def start_ai_companion(
        self, meeting_id: int, features: tuple[str, ...] = ("questions", "summary")
    ) -> bool:
        """The host starts AI Companion (starting the meeting first if needed): emits
        meeting.ai_companion_started. False when it was disabled in this meeting."""
        unknown = set(features) - set(AI_COMPANION_FEATURES)
        if unknown or not features:
            raise ValueError(f"AI Companion features are {AI_COMPANION_FEATURES}, got {features}")
        with self.lock:
            live = self.start_meeting(meeting_id)
            if live.ai_companion == "disabled":
                return False
            live.ai_companion = "started"
            live.ai_companion_features = tuple(features)
            self._emit("meeting.ai_companion_started", {"object": self._ai_companion_object(live)})
            return True

    def control_ai_companion(self, live: LiveMeeting, method: str) -> None:
        """``ai_companion.stop`` or ``ai_companion.disable`` through the in-meeting controls:
        a running AI Companion stops (meeting.ai_companion_stopped); disabled, it cannot restart."""
        with self.lock:
            was_running = live.ai_companion == "started"
            live.ai_companion = "disabled" if method == "ai_companion.disable" else "stopped"
            if live.ai_companion == "stopped" and not was_running:
                live.ai_companion = "off"
            if was_running:
                self._emit(
                    "meeting.ai_companion_stopped", {"object": self._ai_companion_object(live)}
                )

    # -- meeting summaries --------------------------------------------------------------------

    def complete_summary(self, meeting_id: int) -> dict[str, Any]:
        """AI Companion's summary of the meeting is ready (the meeting ends first if it is
        live): emits meeting.summary_completed."""
        with self.lock:
            live = self.live.get(meeting_id) or self.start_meeting(meeting_id)
            self.end_meeting(meeting_id)
            meeting = self.meetings[meeting_id]
            ended = now_utc()
            host = self.users[meeting["host_id"]]
            summary = {
                "meeting_host_id": meeting["host_id"],
                "meeting_host_email": host["email"],
                "meeting_uuid": live.uuid,
                "meeting_id": meeting_id,
                "meeting_topic": meeting["topic"],
                "meeting_start_time": iso(live.started_at),
                "meeting_end_time": iso(ended),
                "summary_start_time": iso(live.started_at),
                "summary_end_time": iso(ended),
                "summary_created_time": iso(ended),
                "summary_last_modified_time": iso(ended),
                "summary_title": f"Meeting summary for {meeting['topic']}",
                "summary_overview": "What was said, as AI Companion understood it.",
                "summary_details": [{"label": "Overview", "summary": "What was said."}],
                "next_steps": ["Follow up on what was said."],
            }
            self.summaries[live.uuid] = summary
            self._emit("meeting.summary_completed", {"object": dict(summary)})
            return summary

    def summary_for(self, meeting_ref: str) -> dict[str, Any] | None:
        """The summary of a meeting instance (by UUID) or of a meeting's latest instance."""
        with self.lock:
            if not meeting_ref.isdigit():
                return self.summaries.get(meeting_ref)
            found = [s for s in self.summaries.values() if str(s["meeting_id"]) == meeting_ref]
            return found[-1] if found else None

    def delete_summary(self, summary: Mapping[str, Any], operator_id: str | None) -> None:
        """Delete a summary: emits meeting.summary_deleted."""
        with self.lock:
            self.summaries.pop(str(summary["meeting_uuid"]), None)
            email, op_id = self.operator(operator_id)
            obj = {k: v for k, v in summary.items() if k in _SUMMARY_DELETED_FIELDS}
            self._emit(
                "meeting.summary_deleted", {"operator": email, "operator_id": op_id, "object": obj}
            )

    # -- live streams -------------------------------------------------------------------------

    def _live_stream_object(self, live: LiveMeeting, service: str) -> dict[str, Any]:
        meeting = self.meetings[live.meeting_id]
        return {
            "id": live.meeting_id,
            "uuid": live.uuid,
            "host_id": meeting["host_id"],
            "topic": meeting["topic"],
            "type": meeting["type"],
            "start_time": iso(live.started_at),
            "timezone": meeting.get("timezone", "UTC"),
            "duration": meeting.get("duration", 0),
            "live_streaming": {
                "service": service,
                "custom_live_streaming_settings": {
                    "stream_url": f"{mtg.EXAMPLE_BASE}/livestream",
                    "stream_key": secrets.token_hex(8),
                    "page_url": f"{mtg.EXAMPLE_BASE}/livestream/{live.meeting_id}",
                    "resolution": "1080p",
                },
                "date_time": iso(now_utc()),
            },
        }

    def start_live_stream(
        self, meeting_id: int, service: str = "Custom_Live_Streaming_Service"
    ) -> LiveMeeting:
        """The host streams the meeting (starting it first if needed): emits
        meeting.live_streaming_started."""
        with self.lock:
            live = self.start_meeting(meeting_id)
            if live.live_stream_service is None:
                live.live_stream_service = service
                email, op_id = self.operator(self.meetings[meeting_id]["host_id"])
                self._emit(
                    "meeting.live_streaming_started",
                    {
                        "operator": email,
                        "operator_id": op_id,
                        "object": self._live_stream_object(live, service),
                    },
                )
            return live

    def stop_live_stream(self, live: LiveMeeting, operator_id: str | None) -> bool:
        """Stop the stream: emits meeting.live_streaming_stopped. False if none was running."""
        with self.lock:
            service = live.live_stream_service
            if service is None:
                return False
            live.live_stream_service = None
            email, op_id = self.operator(operator_id)
            self._emit(
                "meeting.live_streaming_stopped",
                {
                    "operator": email,
                    "operator_id": op_id,
                    "object": self._live_stream_object(live, service),
                },
            )
            return True

    # -- recordings: paused and resumed, recovered, transcribed -------------------------------

    def pause_recording(self, meeting_id: int) -> bool:
        """The host pauses a running cloud recording: emits recording.paused."""
        return self._set_recording(meeting_id, "recording", "paused", "recording.paused")

    def resume_recording(self, meeting_id: int) -> bool:
        """The host resumes a paused cloud recording: emits recording.resumed."""
        return self._set_recording(meeting_id, "paused", "recording", "recording.resumed")

    def _set_recording(self, meeting_id: int, was: str, now: str, event: str) -> bool:
        with self.lock:
            live = self.live.get(meeting_id)
            if live is None or live.recording_state != was:
                return False
            live.recording_state = now
            meeting = self.meetings[meeting_id]
            obj = self._recording_object(meeting, live, ended=False)
            self._emit(event, {"object": obj})
            return True

    def recover_recording(self, uuid: str, operator_id: str | None = None) -> Recording | None:
        """A trashed recording is recovered from the trash: emits recording.recovered."""
        with self.lock:
            recording = self.recordings.get(uuid)
            if recording is None or not recording.trashed:
                return None
            recording.trashed = False
            email, op_id = self.operator(operator_id)
            obj = recording.webhook_object(
                self.config.account_id, mtg.EXAMPLE_BASE, completed=False
            )
            self._emit(
                "recording.recovered", {"operator": email, "operator_id": op_id, "object": obj}
            )
            return recording

    def complete_transcript(self, meeting_id: int) -> Recording:
        """The audio transcript of the meeting's latest recording is ready (the recording is
        completed first if there is none): emits recording.transcript_completed."""
        with self.lock:
            found = self.recordings_of(str(meeting_id))
            recording = found[0] if found else self.complete_recording(meeting_id)
            first = recording.files[0] if recording.files else None
            transcript = RecordingFile(
                id=secrets.token_hex(16),
                file_type="TRANSCRIPT",
                file_extension="VTT",
                recording_type="audio_transcript",
                file_size=self.rng.randint(1_000, 200_000),
                recording_start=first.recording_start if first else iso(now_utc()),
                recording_end=first.recording_end if first else iso(now_utc()),
            )
            recording.files.append(transcript)
            obj = recording.webhook_object(self.config.account_id, mtg.EXAMPLE_BASE, completed=True)
            # The event carries the transcript alone, as in Zoom's example.
            obj["recording_files"] = [f for f in obj["recording_files"] if f["id"] == transcript.id]
            obj["recording_count"] = 1
            self._emit(
                "recording.transcript_completed",
                {"object": obj},
                download_token=secrets.token_urlsafe(48),
            )
            return recording

    # -- meeting chat -------------------------------------------------------------------------

    def send_chat_file(
        self, meeting_id: int, file_name: str, file_type: str, sender_name: str = "Guest"
    ) -> dict[str, Any]:
        """A participant sends a file in the meeting chat (starting the meeting first if
        needed): emits meeting.chat_message_file_sent, with the file's download link."""
        with self.lock:
            live = self.start_meeting(meeting_id)
            file_id = secrets.token_urlsafe(24)
            sent = {
                # The schema says date-time (Zoom's example shows "GMT20220110-072010").
                "date_time": iso(now_utc()),
                "sender_session_id": str(self.rng.randint(10_000_000, 99_999_999)),
                "sender_name": sender_name,
                "sender_type": "guest",
                "sender_context": "meeting",
                "recipient_type": "everyone",
                "recipient_context": "meeting",
                "message_id": secrets.token_urlsafe(24),
                "file_id": file_id,
                "file_name": file_name,
                "file_size": self.rng.randint(1_000, 5_000_000),
                "file_type": file_type,
                "download_url": f"{mtg.EXAMPLE_BASE}/file/{file_id}?filename={file_name}",
            }
            obj = {"meeting_id": meeting_id, "meeting_uuid": live.uuid, "chat_message_file": sent}
            self._emit("meeting.chat_message_file_sent", {"object": obj})
            return sent


# meeting.summary_deleted's object: the summary's identity and times, not its text.
_SUMMARY_DELETED_FIELDS = frozenset(
    {
        "meeting_host_id",
        "meeting_host_email",
        "meeting_uuid",
        "meeting_id",
        "meeting_topic",
        "meeting_start_time",
        "meeting_end_time",
        "summary_start_time",
        "summary_end_time",
        "summary_created_time",
        "summary_last_modified_time",
        "summary_title",
    }
)

"""The live side of the sandbox: meetings start, record and end, cloud recordings complete and
are removed, and every change becomes a webhook event (``_emit``) with its delivery log.

``LiveScenario`` is a base class of ``SandboxState``; it declares the state it works on, which
``SandboxState.__init__`` creates.
"""

from __future__ import annotations

import base64
import copy
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from zoomguard.sandbox import meetings as mtg
from zoomguard.sandbox.config import SandboxConfig
from zoomguard.sandbox.model import (
    LiveMeeting,
    Recording,
    RecordingFile,
    RecordingStop,
    iso,
    meeting_summary,
)
from zoomguard.sandbox.webhooks import Delivery

RECORDING_TYPES = frozenset(range(1, 10)) | {99}


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class LiveScenario:
    config: SandboxConfig
    lock: threading.RLock
    rng: random.Random
    users: dict[str, dict[str, Any]]
    meetings: dict[int, dict[str, Any]]
    live: dict[int, LiveMeeting]
    recordings: dict[str, Recording]
    recording_stops: list[RecordingStop]
    events: list[dict[str, Any]]
    deliveries: list[Delivery]
    owner_id: str | None
    event_sink: Callable[[dict[str, Any]], object] | None

    def new_uuid(self) -> str:
        with self.lock:
            return base64.b64encode(self.rng.randbytes(16)).decode()

    def operator(self, user_id: str | None) -> tuple[str, str]:
        """(email, id) of whoever made a change: the given user, else the account owner."""
        user = self.users.get(user_id or "") or self.users.get(self.owner_id or "")
        if user is None:
            return "admin@example.org", self.config.account_id
        return str(user["email"]), str(user["id"])

    # -- the live scenario: meetings start, record, end --------------------------------------

    def start_meeting(self, meeting_id: int) -> LiveMeeting:
        """The host starts the meeting: emits meeting.started."""
        with self.lock:
            live = self.live.get(meeting_id)
            if live is not None:
                return live
            meeting = self.meetings[meeting_id]
            started = now_utc()
            live = LiveMeeting(meeting_id=meeting_id, uuid=meeting["uuid"], started_at=started)
            self.live[meeting_id] = live
            meeting["status"] = "started"
            obj = meeting_summary(meeting, string_id=True, start_time=iso(started))
            obj = {**obj, "host_email": self.users[meeting["host_id"]]["email"]}
            self._emit("meeting.started", {"object": obj})
            return live

    def _recording_object(
        self, meeting: Mapping[str, Any], live: LiveMeeting, *, ended: bool
    ) -> dict[str, Any]:
        start = live.recording_start or live.started_at
        kind = meeting["type"] if meeting["type"] in RECORDING_TYPES else 2
        return {
            "id": meeting["id"],
            "uuid": live.uuid,
            "host_id": meeting["host_id"],
            "topic": meeting["topic"],
            "type": kind,
            "start_time": iso(live.started_at),
            "timezone": meeting.get("timezone", "UTC"),
            "duration": meeting.get("duration", 0),
            "recording_file": {
                "recording_start": iso(start),
                "recording_end": iso(live.recording_end) if ended and live.recording_end else "",
            },
        }

    def start_recording(self, meeting_id: int) -> LiveMeeting:
        """The host starts a cloud recording (starting the meeting first if needed): emits
        recording.started."""
        with self.lock:
            live = self.start_meeting(meeting_id)
            if live.recording_state == "recording":
                return live
            live.recording_start = live.recording_start or now_utc()
            live.recording_end = None
            live.recording_state = "recording"
            meeting = self.meetings[meeting_id]
            self._emit(
                "recording.started", {"object": self._recording_object(meeting, live, ended=False)}
            )
            return live

    def stop_recording(self, meeting_id: int) -> bool:
        """Stop a running cloud recording: emits recording.stopped. False if none was running."""
        with self.lock:
            live = self.live.get(meeting_id)
            if live is None or live.recording_state not in ("recording", "paused"):
                return False
            live.recording_state = "stopped"
            live.recording_end = now_utc()
            meeting = self.meetings[meeting_id]
            self._emit(
                "recording.stopped", {"object": self._recording_object(meeting, live, ended=True)}
            )
            return True

    def end_meeting(self, meeting_id: int) -> LiveMeeting | None:
        """The meeting ends (a running recording stops first): emits meeting.ended."""
        with self.lock:
            live = self.live.get(meeting_id)
            if live is None:
                return None
            self.stop_recording(meeting_id)
            del self.live[meeting_id]
            meeting = self.meetings[meeting_id]
            meeting["status"] = "waiting"
            obj = meeting_summary(meeting, string_id=True, start_time=iso(live.started_at))
            obj = {
                **obj,
                "uuid": live.uuid,
                "host_email": self.users[meeting["host_id"]]["email"],
                "end_time": iso(max(now_utc(), live.started_at)),
            }
            self._emit("meeting.ended", {"object": obj})
            if meeting["type"] in (3, 8):
                meeting["uuid"] = self.new_uuid()  # the next instance has its own UUID
            return live

    def complete_recording(self, meeting_id: int, *, end_meeting: bool = True) -> Recording:
        """A cloud recording finishes processing: emits recording.completed (with
        recording_files and download_token). Starts and records the meeting first if it is not
        live; ends it first when ``end_meeting``."""
        with self.lock:
            live = self.live.get(meeting_id)
            if live is None or live.recording_start is None:
                live = self.start_recording(meeting_id)
            if end_meeting:
                self.end_meeting(meeting_id)
            else:
                self.stop_recording(meeting_id)
            meeting = self.meetings[meeting_id]
            start = live.recording_start or live.started_at
            end = max(live.recording_end or now_utc(), start)
            kind = meeting["type"] if meeting["type"] in RECORDING_TYPES else 2
            recording = Recording(
                meeting_id=meeting_id,
                uuid=live.uuid,
                host_id=meeting["host_id"],
                host_email=self.users[meeting["host_id"]]["email"],
                topic=meeting["topic"],
                meeting_type=kind,
                start_time=iso(live.started_at),
                timezone=meeting.get("timezone", "UTC"),
                duration=max(1, int((end - start).total_seconds() // 60)),
                password=meeting.get("password", ""),
            )
            for file_type, extension, rec_type in (
                ("MP4", "MP4", "shared_screen_with_speaker_view"),
                ("M4A", "M4A", "audio_only"),
                ("CHAT", "TXT", "chat_file"),
            ):
                recording.files.append(
                    RecordingFile(
                        id=secrets.token_hex(16),
                        file_type=file_type,
                        file_extension=extension,
                        recording_type=rec_type,
                        file_size=self.rng.randint(10_000, 50_000_000),
                        recording_start=iso(start),
                        recording_end=iso(end),
                    )
                )
            self.recordings[recording.uuid] = recording
            self._emit(
                "recording.completed",
                {
                    "object": recording.webhook_object(
                        self.config.account_id, mtg.EXAMPLE_BASE, completed=True
                    )
                },
                download_token=secrets.token_urlsafe(48),
            )
            return recording

    def participant_joins_before_host(self, meeting_id: int, user_name: str = "Guest") -> bool:
        """A participant joins before the host: emits meeting.participant_jbh_joined when the
        meeting allows join before host and is not live; False otherwise."""
        with self.lock:
            meeting = self.meetings[meeting_id]
            if meeting_id in self.live or not meeting["settings"].get("join_before_host"):
                return False
            obj = meeting_summary(meeting, string_id=True)
            obj["participant"] = {"id": secrets.token_hex(8), "user_name": user_name}
            self._emit("meeting.participant_jbh_joined", {"object": obj})
            return True

    def record_stop_request(
        self, meeting_id: int, was_recording: bool, received_at: float | None = None
    ) -> RecordingStop:
        """Note a recording.stop received through the API, with the time it arrived."""
        with self.lock:
            live = self.live.get(meeting_id)
            uuid = live.uuid if live else self.meetings[meeting_id]["uuid"]
            arrived = received_at if received_at is not None else time.time()
            stop = RecordingStop(meeting_id, uuid, arrived, was_recording)
            self.recording_stops.append(stop)
            return stop

    def recordings_of(self, meeting_ref: str) -> list[Recording]:
        """Untrashed recordings for a meeting id (latest instance first) or one UUID."""
        with self.lock:
            if not (meeting_ref.isascii() and meeting_ref.isdigit()):
                found = self.recordings.get(meeting_ref)
                return [found] if found is not None and not found.trashed else []
            mid = int(meeting_ref)
            return [
                r for r in reversed(list(self.recordings.values()))
                if r.meeting_id == mid and not r.trashed
            ]  # fmt: skip

    def remove_recording(
        self, recording: Recording, *, action: str, operator_id: str | None
    ) -> None:
        """Trash (recoverable) or delete a recording: emits recording.trashed/deleted."""
        with self.lock:
            email, op_id = self.operator(operator_id)
            obj = recording.webhook_object(
                self.config.account_id, mtg.EXAMPLE_BASE, completed=False
            )
            if action == "delete":
                self.recordings.pop(recording.uuid, None)
                name = "recording.deleted"
            else:
                recording.trashed = True
                name = "recording.trashed"
            self._emit(name, {"operator": email, "operator_id": op_id, "object": obj})

    # -- events ------------------------------------------------------------------------------

    def _emit(self, name: str, payload: dict[str, Any], **top: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event": name,
            "payload": {"account_id": self.config.account_id, **payload},
            "event_ts": int(time.time() * 1000),
            **top,
        }
        with self.lock:
            self.events.append(event)
            sink = self.event_sink
        if sink is not None:
            sink(event)
        return event

    def record_delivery(self, delivery: Delivery) -> None:
        with self.lock:
            self.deliveries.append(delivery)

    def deliveries_snapshot(self, event: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if event is None or d.event == event]

    def events_snapshot(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(e) for e in self.events if name is None or e["event"] == name]

    def recording_stop_latencies(self) -> list[tuple[int, float]]:
        """(meeting id, seconds from the first recording.started delivery to the stop request)
        for every stop received through the API: the benchmark's reaction time."""
        with self.lock:
            sent: dict[int | str, float] = {}
            for d in self.deliveries:
                if d.event == "recording.started" and d.meeting_id is not None:
                    sent.setdefault(d.meeting_id, d.sent_at)
            return [
                (s.meeting_id, s.received_at - sent[s.meeting_id])
                for s in self.recording_stops
                if s.meeting_id in sent
            ]

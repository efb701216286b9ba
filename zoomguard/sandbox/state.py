"""SandboxState: everything the stand-in knows, and the scripting surface tests use.

All mutation happens under ``state.lock`` (re-entrant), so request threads, the webhook workers
and a test poking at the state directly see consistent data. Meetings and users are kept as the
JSON objects Zoom's GET endpoints return; tests may read ``state.meetings[id]`` directly.
"""

from __future__ import annotations

import base64
import copy
import random
import string
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from zoomguard.sandbox import meetings as mtg
from zoomguard.sandbox.config import SandboxConfig
from zoomguard.sandbox.generator import populate
from zoomguard.sandbox.live import now_utc
from zoomguard.sandbox.live_records import RecordsScenario
from zoomguard.sandbox.model import (
    LiveMeeting,
    Recording,
    RecordingStop,
    iso,
    meeting_changes,
    meeting_summary,
    parse_iso,
)
from zoomguard.sandbox.oauth import TokenStore
from zoomguard.sandbox.ratelimit import DailyUpdateCounter
from zoomguard.sandbox.scripting import (
    DEFAULT_FAULT_CODES,
    DEFAULT_FAULT_MESSAGES,
    Fault,
    PageTokens,
    RequestRecord,
)
from zoomguard.sandbox.settings import SettingsTree, enforce_meeting
from zoomguard.sandbox.webhooks import Delivery
from zoomguard.sandbox.webinar_state import WebinarScenario


class SandboxState(RecordsScenario, WebinarScenario):
    def __init__(self, config: SandboxConfig | None = None, *, generate: bool = True) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.lock = threading.RLock()
        self.rng = random.Random(f"sandbox-ids:{self.config.seed}")
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.settings = SettingsTree()
        self.meetings: dict[int, dict[str, Any]] = {}
        self.webinars: dict[int, dict[str, Any]] = {}
        self.live: dict[int, LiveMeeting] = {}
        # (meeting id, occurrence id) -> that occurrence's own values (occurrences.py).
        self.occurrence_settings: dict[tuple[int, str], dict[str, Any]] = {}
        self.recordings: dict[str, Recording] = {}
        self.recording_stops: list[RecordingStop] = []
        # AI Companion meeting summaries, by meeting instance UUID.
        self.summaries: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        # Ground truth from the generator: meeting id -> the ways it was made noncompliant.
        self.noncompliance: dict[int, tuple[str, ...]] = {}
        self.tokens = TokenStore(lambda: self.config.token_ttl_seconds)
        self.update_counter = DailyUpdateCounter()
        self.owner_id: str | None = None
        # Receives each event as it is emitted (the server wires its webhook dispatcher here).
        self.event_sink: Callable[[dict[str, Any]], object] | None = None
        self._by_email: dict[str, str] = {}
        self._by_host: dict[str, dict[int, None]] = {}
        self._requests: list[RequestRecord] = []
        self._requests_lock = threading.Lock()
        self._faults: list[Fault] = []
        self._delete_after_list: set[int] = set()
        self.pages = PageTokens(lambda: self.config.page_token_ttl_seconds)
        if generate and (self.config.users or self.config.meetings):
            populate(
                self,
                seed=self.config.seed,
                users=self.config.users,
                meetings=self.config.meetings,
                noncompliant_share=self.config.noncompliant_share,
            )

    # -- identifiers -------------------------------------------------------------------------

    def new_user_id(self) -> str:
        with self.lock:
            while True:
                raw = base64.urlsafe_b64encode(self.rng.randbytes(16)).decode().rstrip("=")
                if raw not in self.users:
                    return raw

    def new_meeting_id(self) -> int:
        with self.lock:
            while True:
                candidate = self.rng.randint(81_000_000_000, 99_999_999_999)
                if candidate not in self.meetings:
                    return candidate

    def new_password(self) -> str:
        alphabet = string.ascii_letters + string.digits
        with self.lock:
            return "".join(self.rng.choice(alphabet) for _ in range(8))

    # -- users and groups --------------------------------------------------------------------

    def add_group(self, name: str, *, group_id: str | None = None) -> dict[str, Any]:
        with self.lock:
            gid = group_id or self.new_user_id()
            group = {"id": gid, "name": name, "total_members": 0}
            self.groups[gid] = group
            return group

    def add_user(
        self,
        email: str | None = None,
        *,
        first_name: str = "Test",
        last_name: str = "User",
        user_id: str | None = None,
        status: str = "active",
        user_type: int = 2,
        group_id: str | None = None,
        timezone: str = "America/Vancouver",
        role_id: str | None = None,
        created_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Add a user (the first one added is the account owner)."""
        with self.lock:
            uid = user_id or self.new_user_id()
            address = email or f"user{len(self.users) + 1}@example.org"
            created = iso(created_at or now_utc() - timedelta(days=365))
            is_owner = self.owner_id is None
            user: dict[str, Any] = {
                "id": uid,
                "first_name": first_name,
                "last_name": last_name,
                "display_name": f"{first_name} {last_name}",
                "email": address,
                "type": user_type,
                "role_name": "Owner" if is_owner else "Member",
                "pmi": 5_000_000_000 + self.rng.randint(0, 999_999_999),
                "use_pmi": False,
                "personal_meeting_url": "",
                "timezone": timezone,
                "verified": 1,
                "dept": "",
                "created_at": created,
                "user_created_at": created,
                "last_login_time": created,
                "last_client_version": "6.1.0.1234(mac)",
                "language": "en-US",
                "status": status,
                "role_id": role_id or ("0" if is_owner else "2"),
                "group_ids": [group_id] if group_id else [],
                "login_types": [100],
            }
            user["personal_meeting_url"] = f"{mtg.EXAMPLE_BASE}/j/{user['pmi']}"
            self.users[uid] = user
            self._by_email[address.lower()] = uid
            self._by_host.setdefault(uid, {})
            if group_id:
                self.groups[group_id]["total_members"] += 1
            if is_owner:
                self.owner_id = uid
            return user

    def find_user(self, ref: str | None, *, me: str | None = None) -> dict[str, Any] | None:
        """A user by id or email; "me" is the token's user, or the owner for S2S tokens."""
        with self.lock:
            if ref is None:
                return None
            if ref == "me":
                ref = me or self.owner_id
                if ref is None:
                    return None
            user = self.users.get(ref)
            if user is None and "@" in ref:
                uid = self._by_email.get(ref.lower())
                user = self.users.get(uid) if uid else None
            return user

    def group_of(self, user_id: str) -> str | None:
        user = self.users.get(user_id)
        ids = user.get("group_ids", []) if user else []
        return ids[0] if ids else None

    def _user_ref(self, host: str | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(host, Mapping):
            host = str(host["id"])
        user = self.find_user(host)
        if user is None:
            raise KeyError(f"no such user: {host}")
        return user

    # -- meetings ----------------------------------------------------------------------------

    def add_meeting(self, host: str | Mapping[str, Any], **fields: Any) -> dict[str, Any]:
        """Put a meeting straight into the account (no enforcement, no webhook).

        ``fields`` may set any top-level field (``id``, ``uuid``, ``topic``, ``type``,
        ``start_time`` as datetime or ISO string, ``duration``, ``timezone``, ``agenda``,
        ``password``, ``created_at``, ``creation_source``, ``occurrences`` = count) and
        ``settings`` (a dict merged over the defaults).
        """
        with self.lock:
            user = self._user_ref(host)
            meeting_id = int(fields.pop("id", None) or self.new_meeting_id())
            start = fields.pop("start_time", None)
            if isinstance(start, str):
                start = parse_iso(start)
            meeting_type = int(fields.pop("type", 2))
            if start is None and meeting_type != 3:
                start = now_utc() + timedelta(days=7)
            password = fields.pop("password", None)
            if password is None:
                password = self.new_password()
            created = fields.pop("created_at", None)
            if isinstance(created, str):
                created = parse_iso(created)
            meeting = mtg.new_meeting(
                meeting_id=meeting_id,
                uuid=fields.pop("uuid", None) or self.new_uuid(),
                host=user,
                topic=fields.pop("topic", "Team meeting"),
                meeting_type=meeting_type,
                start_time=start,
                duration=int(fields.pop("duration", 60)),
                timezone=fields.pop("timezone", user.get("timezone", "UTC")),
                agenda=fields.pop("agenda", ""),
                created_at=created or now_utc() - timedelta(days=3),
                password=password,
                settings=fields.pop("settings", {}),
                creation_source=fields.pop("creation_source", "web_portal"),
                occurrences=int(fields.pop("occurrences", 4)),
            )
            meeting.update(fields)
            self.meetings[meeting_id] = meeting
            self._by_host.setdefault(user["id"], {})[meeting_id] = None
            return meeting

    def find_meeting(self, ref: str | int) -> dict[str, Any] | None:
        """A meeting by numeric id, or by the UUID of its current or a past instance."""
        with self.lock:
            text = str(ref)
            # ASCII only: "¹".isdigit() is true, but int("¹") fails (a 500, not a 404).
            if text.isascii() and text.isdigit():
                return self.meetings.get(int(text))
            for meeting in self.meetings.values():
                if meeting["uuid"] == text:
                    return meeting
            recording = self.recordings.get(text)
            if recording is not None:
                return self.meetings.get(recording.meeting_id)
            return None

    def meetings_of(self, host_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [self.meetings[mid] for mid in self._by_host.get(host_id, {})]

    def create_meeting(
        self,
        host: str | Mapping[str, Any],
        body: Mapping[str, Any],
        *,
        operator_id: str | None = None,
        source: str = "open_api",
    ) -> dict[str, Any]:
        """Create a meeting as Zoom does (defaults from the host's settings, locks enforced)
        and emit meeting.created. Raises MeetingValidationError."""
        clean = mtg.validate_patch(dict(body))
        with self.lock:
            user = self._user_ref(host)
            group_id = self.group_of(user["id"])
            values = self.settings.user_values(user["id"], group_id)
            settings = {
                "waiting_room": values["waiting_room"],
                "join_before_host": values["join_before_host"],
                "auto_recording": values["auto_recording"],
                "meeting_authentication": values["meeting_authentication"],
            }
            settings.update(clean.get("settings", {}))
            password = clean.get("password")
            if password is None:
                required = values["require_password_for_scheduling_new_meetings"]
                password = self.new_password() if required else ""
            start = parse_iso(clean["start_time"]) if clean.get("start_time") else None
            meeting = self.add_meeting(
                user,
                type=clean.get("type", 2),
                topic=clean.get("topic", "Zoom meeting"),
                agenda=clean.get("agenda", ""),
                duration=clean.get("duration", 60),
                timezone=clean.get("timezone", user.get("timezone", "UTC")),
                start_time=start,
                password=password,
                settings=settings,
                creation_source=source,
                created_at=now_utc(),
            )
            self._enforce(meeting, previous_password="")
            self._emit_created(meeting, operator_id)
            return meeting

    def update_meeting(
        self, meeting_id: int, body: Mapping[str, Any], *, operator_id: str | None = None
    ) -> dict[str, Any]:
        """Apply a PATCH as Zoom does: validate, merge, let locked settings win, apply forced
        security, and emit meeting.updated with what actually changed."""
        clean = mtg.validate_patch(dict(body))
        with self.lock:
            current = self.meetings[meeting_id]
            old = copy.deepcopy(current)
            new = mtg.merge_patch(old, clean)
            touched = set(clean.get("settings", {})) | ({"password"} & set(clean))
            self._enforce(new, previous_password=old.get("password", ""), touched=touched)
            if (
                self.config.waiting_room_disables_join_before_host
                and clean.get("settings", {}).get("waiting_room") is True
            ):
                new["settings"]["join_before_host"] = False  # as Zoom does
            # In place, so a test holding the meeting dict sees the change.
            current.clear()
            current.update(new)
            changes = meeting_changes(old, current)
            if changes is not None:
                email, op_id = self.operator(operator_id)
                obj, old_obj = changes
                self._emit(
                    "meeting.updated",
                    {
                        "operator": email,
                        "operator_id": op_id,
                        "object": obj,
                        "old_object": old_obj,
                        "time_stamp": int(time.time() * 1000),
                    },
                )
            return current

    def _enforce(
        self,
        meeting: dict[str, Any],
        *,
        previous_password: str,
        touched: Collection[str] | None = None,
    ) -> None:
        host_id = meeting["host_id"]
        settings, password = enforce_meeting(
            meeting["settings"],
            meeting.get("password", ""),
            self.settings,
            host_id,
            self.group_of(host_id),
            previous_password=previous_password,
            make_password=self.new_password,
            touched=touched,
        )
        meeting["settings"] = settings
        meeting["password"] = password
        mtg.sync_passwords(meeting)

    def delete_meeting(self, meeting_id: int, *, operator_id: str | None = None) -> bool:
        with self.lock:
            meeting = self.meetings.pop(meeting_id, None)
            if meeting is None:
                return False
            self._by_host.get(meeting["host_id"], {}).pop(meeting_id, None)
            self.live.pop(meeting_id, None)
            email, op_id = self.operator(operator_id or meeting["host_id"])
            obj = meeting_summary(meeting, string_id=False)
            if "occurrences" in meeting:
                obj["occurrences"] = [
                    {"occurrence_id": o["occurrence_id"], "start_time": o["start_time"]}
                    for o in meeting["occurrences"]
                ]
            self._emit(
                "meeting.deleted",
                {"operator": email, "operator_id": op_id, "operation": "all", "object": obj},
            )
            return True

    def _emit_created(self, meeting: Mapping[str, Any], operator_id: str | None) -> None:
        email, op_id = self.operator(operator_id or meeting["host_id"])
        settings = meeting["settings"]
        obj: dict[str, Any] = {
            "uuid": meeting["uuid"],
            "id": meeting["id"],
            "host_id": meeting["host_id"],
            "topic": meeting["topic"],
            "type": meeting["type"],
            "duration": meeting["duration"],
            "timezone": meeting["timezone"],
            "join_url": meeting["join_url"],
            "password": meeting["password"],
            "creation_source": meeting["creation_source"],
            "settings": {
                "use_pmi": settings.get("use_pmi", False),
                "alternative_hosts": settings.get("alternative_hosts", ""),
                "join_before_host": settings.get("join_before_host", False),
                "jbh_time": settings.get("jbh_time", 0),
            },
        }
        if "start_time" in meeting:
            obj["start_time"] = meeting["start_time"]
        for name in ("occurrences", "recurrence"):
            if name in meeting:
                obj[name] = copy.deepcopy(meeting[name])
        self._emit(
            "meeting.created",
            {"operator": email, "operator_id": op_id, "operation": "all", "object": obj},
        )

    # -- tokens ------------------------------------------------------------------------------

    def set_token_ttl(self, seconds: float) -> None:
        """Lifetime of tokens issued from now on."""
        self.config.token_ttl_seconds = seconds

    def expire_tokens(self) -> None:
        """Expire every access token already issued (the next API call gets 124)."""
        self.tokens.expire_all()

    # -- paging ------------------------------------------------------------------------------

    def paginate(
        self, key: str, items: list[Any] | None, page_size: int, token: str | None
    ) -> tuple[list[Any], str, int] | None:
        """(page, next_page_token, total), or None for an unknown, expired or foreign token."""
        return self.pages.page(key, items, page_size, token)

    # -- scripting: faults, hooks, the request log -------------------------------------------

    def fail_once(
        self,
        method: str,
        path_or_meeting: str | int,
        status: int = 429,
        retry_after: str | None = "1",
        code: int | None = None,
        message: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Fail the next ``times`` matching requests with ``status`` and Zoom's error body.

        ``path_or_meeting`` is a path ("/v2/meetings/123", "/oauth/token"; "/v2" optional) or
        a meeting/user id matched against the request's path parameters."""
        fault = Fault(
            method=method,
            target=str(path_or_meeting),
            status=status,
            retry_after=retry_after if status == 429 else None,
            code=code if code is not None else DEFAULT_FAULT_CODES.get(status, status),
            message=message or DEFAULT_FAULT_MESSAGES.get(status, "Internal Server Error."),
            times=times,
        )
        with self.lock:
            self._faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str, params: Mapping[str, str]) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.matches(method, path, params):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def pending_faults(self) -> list[Fault]:
        with self.lock:
            return list(self._faults)

    def delete_after_list(self, meeting_id: int) -> None:
        """Delete the meeting right after it next appears in a list response (to simulate a
        meeting deleted between the list and the GET)."""
        with self.lock:
            self._delete_after_list.add(int(meeting_id))

    def after_listed(self, meeting_ids: list[int]) -> None:
        with self.lock:
            doomed = [mid for mid in meeting_ids if mid in self._delete_after_list]
            for mid in doomed:
                self._delete_after_list.discard(mid)
                self.delete_meeting(mid)

    def log_request(self, **fields: Any) -> RequestRecord:
        with self._requests_lock:
            record = RequestRecord(index=len(self._requests), **fields)
            self._requests.append(record)
            return record

    def request_log(self, since: int = 0) -> list[RequestRecord]:
        """A copy of the request log from index ``since`` on (thread-safe)."""
        with self._requests_lock:
            return self._requests[since:]

    def clear_request_log(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    # -- summary -----------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "account_id": self.config.account_id,
                "plan": self.config.plan,
                "users": len(self.users),
                "groups": len(self.groups),
                "meetings": len(self.meetings),
                "webinars": len(self.webinars),
                "webinar_plan": self.config.webinar_plan,
                "noncompliant_generated": len(self.noncompliance),
                "live_meetings": sorted(self.live),
                "recordings": sum(1 for r in self.recordings.values() if not r.trashed),
                "recording_stops": len(self.recording_stops),
                "events": len(self.events),
                "deliveries": len(self.deliveries),
                "requests": len(self._requests),
                "pending_faults": len(self._faults),
                "token_ttl_seconds": self.config.token_ttl_seconds,
                "latency_ms": self.config.latency_ms,
                "rate_light": self.config.rate("light"),
                "rate_medium": self.config.rate("medium"),
                "webhook_url": self.config.webhook_url,
            }

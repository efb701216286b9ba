"""The sandbox's webinars: kept, changed and deleted as Zoom does, each change a webhook event.

``WebinarScenario`` is a base class of ``SandboxState`` (after ``LiveScenario``, whose state and
``_emit`` it uses). ``config.webinar_plan`` False plays an account without a webinar plan: every
webinar endpoint then answers HTTP 400 with code 200 (api_webinars.py).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from zoomguard.sandbox import webinars as web
from zoomguard.sandbox.live import LiveScenario, now_utc
from zoomguard.sandbox.model import parse_iso


class WebinarScenario(LiveScenario):
    webinars: dict[int, dict[str, Any]]

    def _webinar_host(self, host: str | Mapping[str, Any]) -> dict[str, Any]:
        user_id = host["id"] if isinstance(host, Mapping) else host
        user = self.users.get(str(user_id))
        if user is None:
            raise KeyError(f"no such user: {user_id}")
        return user

    def new_webinar_id(self) -> int:
        with self.lock:
            while True:
                candidate = self.rng.randint(91_000_000_000, 99_999_999_999)
                if candidate not in self.webinars and candidate not in self.meetings:
                    return candidate

    def add_webinar(
        self, host: str | Mapping[str, Any], *, emit: bool = False, **fields: Any
    ) -> dict[str, Any]:
        """Put a webinar into the account; ``emit`` sends webinar.created as Zoom would.

        ``fields`` may set ``id``, ``topic``, ``type`` (5, 6, 9), ``start_time`` (datetime or
        ISO), ``duration``, ``timezone``, ``agenda``, ``password`` and ``settings`` (merged over
        the defaults). Without a ``password`` the webinar gets a fresh one.
        """
        with self.lock:
            user = self._webinar_host(host)
            webinar_id = int(fields.pop("id", None) or self.new_webinar_id())
            start = fields.pop("start_time", None)
            if isinstance(start, str):
                start = parse_iso(start)
            password = fields.pop("password", None)
            webinar = web.new_webinar(
                webinar_id=webinar_id,
                uuid=self.new_uuid(),
                host=user,
                topic=fields.pop("topic", "Webinar"),
                webinar_type=int(fields.pop("type", 5)),
                start_time=start or now_utc() + timedelta(days=14),
                duration=int(fields.pop("duration", 60)),
                timezone=fields.pop("timezone", user.get("timezone", "UTC")),
                agenda=fields.pop("agenda", ""),
                created_at=now_utc() - timedelta(days=3),
                password=self._fresh_password() if password is None else password,
                settings=fields.pop("settings", {}),
                creation_source=fields.pop("creation_source", "web_portal"),
            )
            if fields:
                raise TypeError(f"unknown webinar fields: {', '.join(sorted(fields))}")
            self.webinars[webinar_id] = webinar
            if emit:
                email, op_id = self.operator(user["id"])
                self._emit(
                    "webinar.created",
                    {
                        "operator": email,
                        "operator_id": op_id,
                        "operation": "single",
                        "object": web.created_object(webinar),
                    },
                )
            return webinar

    def _fresh_password(self) -> str:
        alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        with self.lock:
            return "".join(self.rng.choice(alphabet) for _ in range(8))

    def webinars_of(self, host_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [w for w in self.webinars.values() if w["host_id"] == host_id]

    def find_webinar(self, ref: str | int) -> dict[str, Any] | None:
        with self.lock:
            text = str(ref)
            if text.isdigit():
                return self.webinars.get(int(text))
            return next((w for w in self.webinars.values() if w["uuid"] == text), None)

    def update_webinar(
        self, webinar_id: int, body: Mapping[str, Any], *, operator_id: str | None = None
    ) -> dict[str, Any]:
        """Apply a PATCH (validated as a meeting's) and emit webinar.updated if anything
        changed. Raises MeetingValidationError, or KeyError for a webinar that is gone."""
        with self.lock:
            current = self.webinars[webinar_id]
            clean = web.validate_webinar_patch(dict(body), current["settings"])
            old = copy.deepcopy(current)
            new = web.merge_webinar_patch(old, clean)
            current.clear()
            current.update(new)  # in place, so a test holding the dict sees the change
            changes = web.webinar_changes(old, current)
            if changes is not None:
                email, op_id = self.operator(operator_id or current["host_id"])
                obj, old_obj = changes
                self._emit(
                    "webinar.updated",
                    {
                        "operator": email,
                        "operator_id": op_id,
                        "scope": "single",
                        "object": obj,
                        "old_object": old_obj,
                        "time_stamp": int(time.time() * 1000),
                    },
                )
            return current

    def delete_webinar(self, webinar_id: int, *, operator_id: str | None = None) -> bool:
        with self.lock:
            webinar = self.webinars.pop(webinar_id, None)
            if webinar is None:
                return False
            email, op_id = self.operator(operator_id or webinar["host_id"])
            self._emit(
                "webinar.deleted",
                {
                    "operator": email,
                    "operator_id": op_id,
                    "operation": "single",
                    "object": web.deleted_object(webinar),
                },
            )
            return True

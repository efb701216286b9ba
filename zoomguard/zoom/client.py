"""The Zoom REST API client: one method per endpoint zoomguard uses.

``ZoomClient`` adds the endpoints (paths, rate-limit categories, Zoom's "not found" codes) to
``ZoomTransport`` (transport.py: tokens, rate limits, retries, metrics).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from zoomguard.config import Settings
from zoomguard.errors import ConfigError, WebinarPlanMissing, ZoomAPIError, ZoomNotFound
from zoomguard.zoom.tokens import S2STokenProvider
from zoomguard.zoom.transport import (
    LIGHT,
    MEDIUM,
    ClientStats,
    ZoomTransport,
    parse_retry_after,
)

__all__ = [
    "LIGHT",
    "MEDIUM",
    "ClientStats",
    "ZoomClient",
    "encode_meeting_id",
    "parse_retry_after",
]

# Zoom allows at most 300 items per page on the meeting and recording lists, 2,000 on users.
MAX_PAGE_SIZE = 300
MAX_USERS_PAGE_SIZE = 2000
# GET /users/{userId}/recordings: "The maximum range can be a month." 28 days always fits.
RECORDINGS_WINDOW_DAYS = 28

NO_SUCH_MEETING = 3001  # also "Webinar does not exist" on the webinar endpoints
# The webinar endpoints answer HTTP 400 with this code when the webinar plan is missing (Zoom's
# OpenAPI document; the same code also stands for "No permission" there).
WEBINAR_PLAN_MISSING = 200
NO_RECORDING = 3301


def encode_meeting_id(meeting_id: int | str) -> str:
    """A meeting ID or UUID as a path segment.

    Zoom: a UUID that starts with "/" or contains "//" must be double-encoded; other UUIDs are
    encoded once ("+", "=" and a lone "/" included); numeric IDs go as they are.
    """
    text = str(meeting_id)
    if text.isdigit():
        return text
    if text.startswith("/") or "//" in text:
        return quote(quote(text, safe=""), safe="")
    return quote(text, safe="")


def _encode_id(value: str) -> str:
    # User, group and account IDs are opaque strings; emails keep their "@".
    return quote(str(value), safe="@")


class ZoomClient(ZoomTransport):
    """Thread-safe Zoom API client: the endpoints zoomguard calls."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ZoomClient:
        """A client with Server-to-Server OAuth credentials and limits from ``settings``."""
        if not (
            settings.zoom_account_id and settings.zoom_client_id and settings.zoom_client_secret
        ):
            raise ConfigError(
                "Zoom Server-to-Server OAuth credentials missing: set ZOOM_ACCOUNT_ID, "
                "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"
            )
        provider = S2STokenProvider(
            settings.token_url,
            settings.zoom_account_id,
            settings.zoom_client_id,
            settings.zoom_client_secret,
            timeout=settings.http_timeout_seconds,
        )
        return cls(
            settings.zoom_api_url,
            provider,
            rate_light=settings.api_rates()[0],
            rate_medium=settings.api_rates()[1],
            timeout=settings.http_timeout_seconds,
            max_retries=settings.max_retries,
            pool_size=max(32, settings.concurrency * 2),
        )

    # --- users and meetings -----------------------------------------------------------------

    def list_users(
        self, status: str = "active", page_size: int = MAX_USERS_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        size = str(min(page_size, MAX_USERS_PAGE_SIZE))
        return self._paginate(MEDIUM, "/users", {"status": status, "page_size": size}, "users")

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        """One user (with ``group_ids``), or None if the user is gone (404, code 1001)."""
        try:
            return self._json(LIGHT, "GET", f"/users/{quote(str(user_id), safe='')}")
        except ZoomNotFound:
            return None

    def list_meetings(
        self, user_id: str, type: str = "scheduled", page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """The user's meetings as listed (no settings: use ``get_meeting`` for those)."""
        return self._paginate(
            MEDIUM,
            f"/users/{_encode_id(user_id)}/meetings",
            {"type": type, "page_size": str(min(page_size, MAX_PAGE_SIZE))},
            "meetings",
        )

    def get_meeting(
        self, meeting_id: int | str, occurrence_id: str | None = None
    ) -> dict[str, Any] | None:
        """The meeting with its settings, or None if it was deleted (404, code 3001).

        With ``occurrence_id``: the meeting as that occurrence of a recurring meeting has it
        (an occurrence may have its own settings). A series lists only its upcoming
        occurrences (``show_previous_occurrences`` is left off)."""
        params = {"occurrence_id": occurrence_id} if occurrence_id else None
        try:
            return self._json(LIGHT, "GET", f"/meetings/{encode_meeting_id(meeting_id)}", params)
        except ZoomNotFound as exc:
            if exc.code == NO_SUCH_MEETING:
                return None
            raise

    def update_meeting(
        self, meeting_id: int | str, body: Mapping[str, Any], occurrence_id: str | None = None
    ) -> None:
        """PATCH the meeting, or one occurrence of it (Zoom answers 204). ``body`` may hold a
        passcode: never logged."""
        self._request(
            LIGHT,
            "PATCH",
            f"/meetings/{encode_meeting_id(meeting_id)}",
            params={"occurrence_id": occurrence_id} if occurrence_id else None,
            body=body,
        )

    # --- webinars ----------------------------------------------------------------------------

    def list_webinars(
        self, user_id: str, type: str = "scheduled", page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """The user's webinars as listed (no settings: use ``get_webinar`` for those).

        Raises ``WebinarPlanMissing`` when Zoom answers that the webinar plan is missing.
        """
        pages = self._paginate(
            MEDIUM,
            f"/users/{_encode_id(user_id)}/webinars",
            {"type": type, "page_size": str(min(page_size, MAX_PAGE_SIZE))},
            "webinars",
        )
        try:
            yield from pages
        except ZoomAPIError as exc:
            _raise_if_no_webinar_plan(exc)
            raise

    def get_webinar(self, webinar_id: int | str) -> dict[str, Any] | None:
        """The webinar with its settings, or None if it was deleted (404, code 3001)."""
        try:
            return self._json(LIGHT, "GET", f"/webinars/{encode_meeting_id(webinar_id)}")
        except ZoomNotFound as exc:
            if exc.code == NO_SUCH_MEETING:
                return None
            raise
        except ZoomAPIError as exc:
            _raise_if_no_webinar_plan(exc)
            raise

    def update_webinar(self, webinar_id: int | str, body: Mapping[str, Any]) -> None:
        """PATCH the webinar (Zoom answers 204). ``body`` may hold a passcode: never logged."""
        try:
            self._request(LIGHT, "PATCH", f"/webinars/{encode_meeting_id(webinar_id)}", body=body)
        except ZoomAPIError as exc:
            _raise_if_no_webinar_plan(exc)
            raise

    def end_meeting(self, meeting_id: int | str) -> None:
        """End a live meeting (PUT /meetings/{id}/status, action end)."""
        self._request(
            LIGHT,
            "PUT",
            f"/meetings/{encode_meeting_id(meeting_id)}/status",
            body={"action": "end"},
        )

    def stop_recording(self, meeting_id: int | str) -> None:
        """Stop the cloud recording of a live meeting (Zoom answers 202)."""
        self.control_live_meeting(meeting_id, "recording.stop")

    def control_live_meeting(self, meeting_id: int | str, method: str) -> None:
        """An in-meeting control of a live meeting, e.g. ``ai_companion.stop`` (answers 202)."""
        self._request(
            MEDIUM,
            "PATCH",
            f"/live_meetings/{encode_meeting_id(meeting_id)}/events",
            body={"method": method},
        )

    def stop_live_stream(self, meeting_id: int | str) -> None:
        """Stop a live meeting's live stream (Zoom answers 204)."""
        self._request(
            LIGHT,
            "PATCH",
            f"/meetings/{encode_meeting_id(meeting_id)}/livestream/status",
            body={"action": "stop"},
        )

    def delete_meeting_summary(self, meeting_id_or_uuid: int | str) -> None:
        """Delete the AI Companion summary of a meeting (Zoom answers 204)."""
        self._request(
            LIGHT, "DELETE", f"/meetings/{encode_meeting_id(meeting_id_or_uuid)}/meeting_summary"
        )

    # --- recordings ---------------------------------------------------------------------------

    def get_recordings(self, meeting_id_or_uuid: int | str) -> dict[str, Any] | None:
        """The meeting's cloud recordings, or None when there are none (code 3301 or 404)."""
        try:
            return self._json(
                LIGHT, "GET", f"/meetings/{encode_meeting_id(meeting_id_or_uuid)}/recordings"
            )
        except ZoomAPIError as exc:
            if exc.code == NO_RECORDING or exc.status == 404:
                return None
            raise

    def delete_recordings(self, meeting_id_or_uuid: int | str, action: str = "trash") -> bool:
        """Trash (or with action="delete" permanently delete) all recordings of a meeting.

        Returns False when Zoom says there is no recording (code 3301). Pass the instance UUID
        from ``recording.completed``: with a numeric ID only the latest instance is affected.
        """
        if action not in ("trash", "delete"):
            raise ValueError(f"action must be 'trash' or 'delete', got {action!r}")
        try:
            self._request(
                LIGHT,
                "DELETE",
                f"/meetings/{encode_meeting_id(meeting_id_or_uuid)}/recordings",
                params={"action": action},
            )
        except ZoomAPIError as exc:
            if exc.code == NO_RECORDING:
                return False
            raise
        return True

    def list_user_recordings(self, user_id: str, from_: date, to: date) -> Iterator[dict[str, Any]]:
        """The user's cloud recordings (meetings with recording_files) from ``from_`` to ``to``.

        Zoom accepts at most a month per request, so longer ranges are asked for in windows of
        28 days; a meeting instance seen in two windows is yielded once.
        """
        seen: set[str] = set()
        start = from_
        while start <= to:
            end = min(to, start + timedelta(days=RECORDINGS_WINDOW_DAYS - 1))
            params = {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "page_size": str(MAX_PAGE_SIZE),
            }
            for meeting in self._paginate(
                MEDIUM, f"/users/{_encode_id(user_id)}/recordings", params, "meetings"
            ):
                key = str(meeting.get("uuid") or meeting.get("id"))
                if key not in seen:
                    seen.add(key)
                    yield meeting
            start = end + timedelta(days=1)

    # --- settings -------------------------------------------------------------------------------

    def get_account_settings(
        self, account_id: str = "me", option: str | None = None
    ) -> dict[str, Any]:
        return self._json(
            MEDIUM, "GET", f"/accounts/{_encode_id(account_id)}/settings", _option(option)
        )

    def update_account_settings(
        self, body: Mapping[str, Any], account_id: str = "me", option: str | None = None
    ) -> None:
        self._request(
            MEDIUM,
            "PATCH",
            f"/accounts/{_encode_id(account_id)}/settings",
            params=_option(option),
            body=body,
        )

    def get_account_lock_settings(
        self, account_id: str = "me", option: str | None = None
    ) -> dict[str, Any]:
        return self._json(
            MEDIUM, "GET", f"/accounts/{_encode_id(account_id)}/lock_settings", _option(option)
        )

    def update_account_lock_settings(
        self, body: Mapping[str, Any], account_id: str = "me", option: str | None = None
    ) -> None:
        # Zoom documents no `option` for this PATCH; it is sent only when asked for.
        self._request(
            MEDIUM,
            "PATCH",
            f"/accounts/{_encode_id(account_id)}/lock_settings",
            params=_option(option),
            body=body,
        )

    def list_groups(self) -> Iterator[dict[str, Any]]:
        return self._paginate(MEDIUM, "/groups", {"page_size": str(MAX_PAGE_SIZE)}, "groups")

    def get_group_settings(self, group_id: str, option: str | None = None) -> dict[str, Any]:
        return self._json(
            MEDIUM, "GET", f"/groups/{_encode_id(group_id)}/settings", _option(option)
        )

    def update_group_settings(
        self, group_id: str, body: Mapping[str, Any], option: str | None = None
    ) -> None:
        self._request(
            MEDIUM,
            "PATCH",
            f"/groups/{_encode_id(group_id)}/settings",
            params=_option(option),
            body=body,
        )

    def get_group_lock_settings(self, group_id: str, option: str | None = None) -> dict[str, Any]:
        return self._json(
            MEDIUM, "GET", f"/groups/{_encode_id(group_id)}/lock_settings", _option(option)
        )

    def update_group_lock_settings(
        self, group_id: str, body: Mapping[str, Any], option: str | None = None
    ) -> None:
        self._request(
            MEDIUM,
            "PATCH",
            f"/groups/{_encode_id(group_id)}/lock_settings",
            params=_option(option),
            body=body,
        )

    def get_user_settings(self, user_id: str, option: str | None = None) -> dict[str, Any]:
        return self._json(MEDIUM, "GET", f"/users/{_encode_id(user_id)}/settings", _option(option))

    def update_user_settings(
        self, user_id: str, body: Mapping[str, Any], option: str | None = None
    ) -> None:
        self._request(
            MEDIUM,
            "PATCH",
            f"/users/{_encode_id(user_id)}/settings",
            params=_option(option),
            body=body,
        )


def _raise_if_no_webinar_plan(exc: ZoomAPIError) -> None:
    """Zoom's "webinar plan is missing" told apart by its code, never by its wording."""
    if exc.status == 400 and exc.code == WEBINAR_PLAN_MISSING:
        raise WebinarPlanMissing(
            exc.message, status=exc.status, code=exc.code, method=exc.method, path=exc.path
        ) from exc


def _option(option: str | None) -> dict[str, str] | None:
    return {"option": option} if option else None

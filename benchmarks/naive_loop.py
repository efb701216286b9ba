"""The sweep as a user would write it by hand: one requests.Session, one call after another.

It makes the same calls zoomguard makes (list users, list each user's meetings and webinars, GET
each, PATCH the noncompliant ones, GET them again; read a host's meeting_security settings once,
before its first new passcode or its first meeting whose waiting room follows the host's own
setting; GET the next occurrence of each recurring meeting and one more, and fix
them alike), deciding with the same policy so the PATCH bodies are identical, but writes
nothing to a database: the comparison favours the loop. A 429 is waited out as the
Retry-After header says (a sequential loop at 50 ms per call stays under Pro's limits, so this
should not happen).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import requests

from zoomguard.rules import policy
from zoomguard.rules.passcodes import PasscodeRequirement, passcode_maker

PAGE_SIZE = 300


@dataclass
class LoopResult:
    users_total: int
    users_done: int
    meetings: int
    patched: int
    calls: int
    rate_limited: int
    seconds: float
    stopped_early: bool


class HandWrittenSweep:
    def __init__(
        self,
        api_url: str,
        oauth_url: str,
        account_id: str,
        client_id: str,
        client_secret: str,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.oauth_url = oauth_url.rstrip("/")
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.session = requests.Session()
        self.calls = 0
        self.rate_limited = 0

    def token(self) -> str:
        response = self.session.post(
            self.oauth_url + "/oauth/token",
            params={"grant_type": "account_credentials", "account_id": self.account_id},
            auth=(self.client_id, self.client_secret),
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        while True:
            self.calls += 1
            response = self.session.request(method, self.api_url + path, timeout=30, **kwargs)
            if response.status_code != 429:
                response.raise_for_status()
                return response
            self.rate_limited += 1
            time.sleep(float(response.headers.get("Retry-After", "1")))

    def pages(self, path: str, params: dict[str, str], key: str) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            query = dict(params, next_page_token=token) if token else params
            page = self.call("GET", path, params=query).json()
            yield from page.get(key) or []
            token = page.get("next_page_token") or ""
            if not token:
                return

    def occurrence(
        self, meeting: dict[str, Any], profile: policy.Profile, today: date, email: str | None
    ) -> int:
        """Check a recurring meeting's next occurrence and one more (zoomguard's rotation, at a
        first sweep), and fix them; how many were patched."""
        upcoming = [o for o in meeting.get("occurrences") or () if o.get("status") != "deleted"]
        if meeting.get("type") != 8:
            return 0
        patched = 0
        for chosen in upcoming[:2]:
            path = f"/meetings/{meeting['id']}"
            params = {"occurrence_id": chosen["occurrence_id"]}
            occurrence = self.call("GET", path, params=params).json()
            evaluation = policy.evaluate(
                occurrence, profile, today=today, host_email=email, occurrence=True
            )
            if not evaluation.patch or evaluation.exemption is not None:
                continue
            self.call("PATCH", path, params=params, json=evaluation.patch)
            self.call("GET", path, params=params)
            patched += 1
        return patched

    def run(
        self, should_stop: Callable[[int, int, float], bool] = lambda _d, _t, _s: False
    ) -> LoopResult:
        """Sweep every user; ``should_stop(users_done, users_total, seconds)`` is asked after each
        user, so a caller can cut a long run short and extrapolate."""
        started = time.monotonic()
        self.session.headers["Authorization"] = f"Bearer {self.token()}"
        profile = policy.default_profile()
        today = datetime.now(UTC).date()
        users = list(
            self.pages("/users", {"status": "active", "page_size": str(PAGE_SIZE)}, "users")
        )
        meetings = patched = done = 0
        stopped = False
        for user in users:
            listing = self.pages(
                f"/users/{user['id']}/meetings",
                {"type": "scheduled", "page_size": str(PAGE_SIZE)},
                "meetings",
            )
            read: list[dict[str, Any]] = []

            def security(user_id: str = user["id"], read: list[dict[str, Any]] = read) -> Any:
                if not read:  # the host's meeting_security settings, read once
                    found = self.call(
                        "GET", f"/users/{user_id}/settings", params={"option": "meeting_security"}
                    ).json()
                    read.append(found.get("meeting_security", {}))
                return read[0]

            def make_passcode(security: Callable[[], Any] = security) -> str:
                requirement = security().get("meeting_password_requirement")
                return passcode_maker(PasscodeRequirement.from_settings(requirement))()

            for item in listing:
                meeting = self.call("GET", f"/meetings/{item['id']}").json()
                meetings += 1
                host = policy.UNKNOWN_HOST
                if policy.waiting_room_follows_host(meeting):
                    waiting = security().get("waiting_room_settings", {})
                    places = waiting.get("participants_to_place_in_waiting_room")
                    host = policy.HostSettings(waiting_room_places=places)
                evaluation = policy.evaluate(
                    meeting,
                    profile,
                    today=today,
                    host_email=user.get("email"),
                    make_passcode=make_passcode,
                    host=host,
                )
                if evaluation.patch and evaluation.exemption is None:
                    self.call("PATCH", f"/meetings/{item['id']}", json=evaluation.patch)
                    self.call("GET", f"/meetings/{item['id']}")
                    patched += 1
                patched += self.occurrence(meeting, profile, today, user.get("email"))
            # zoomguard also lists each user's webinars (the generated accounts have none).
            webinars = self.pages(
                f"/users/{user['id']}/webinars",
                {"type": "scheduled", "page_size": str(PAGE_SIZE)},
                "webinars",
            )
            for item in webinars:
                webinar = self.call("GET", f"/webinars/{item['id']}").json()
                evaluation = policy.evaluate_webinar(
                    webinar, profile, today=today, host_email=user.get("email")
                )
                if evaluation.patch and evaluation.exemption is None:
                    self.call("PATCH", f"/webinars/{item['id']}", json=evaluation.patch)
                    self.call("GET", f"/webinars/{item['id']}")
                    patched += 1
            done += 1
            if done < len(users) and should_stop(done, len(users), time.monotonic() - started):
                stopped = True
                break
        self.session.close()
        return LoopResult(
            users_total=len(users),
            users_done=done,
            meetings=meetings,
            patched=patched,
            calls=self.calls,
            rate_limited=self.rate_limited,
            seconds=time.monotonic() - started,
            stopped_early=stopped,
        )

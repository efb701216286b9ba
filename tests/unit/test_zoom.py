"""ZoomClient and token providers against a mocked Zoom (responses).

Every API request the client sends here is checked against Zoom's OpenAPI documents, and so is
every mocked answer, by the ``zoom`` fixture when the test ends.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers
from support.openapi import validate_prepared_request, validate_response

from zoomguard.config import Settings
from zoomguard.errors import (
    ConfigError,
    ZoomAPIError,
    ZoomAuthError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomScopeMissing,
    ZoomUnavailable,
)
from zoomguard.zoom.client import LIGHT, MEDIUM, ZoomClient, encode_meeting_id, parse_retry_after
from zoomguard.zoom.ratelimit import ManualClock
from zoomguard.zoom.tokens import S2STokenProvider, StaticTokenProvider
from zoomguard.zoom.transport import JITTER_HEADROOM

API = "https://api.zoom.us/v2"
TOKEN_URL = "https://zoom.us/oauth/token"
WALL_NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC).timestamp()
SECRET = "s3cr3t-client-secret"


class MaxJitter:
    """Full jitter at its ceiling, so backoff sleeps are exact in tests."""

    def uniform(self, a: float, b: float, /) -> float:
        return b


@pytest.fixture
def zoom() -> Iterator[responses.RequestsMock]:
    """A mocked Zoom; on exit, every API request and mocked answer must match the OpenAPI docs."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        for call in mock.calls:
            request = call.request
            if not str(request.url).startswith(API):
                continue
            validate_prepared_request(request)
            answer = call.response
            if isinstance(answer, requests.Response):
                body = answer.content or None
                validate_response(str(request.method), str(request.url), answer.status_code, body)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


@pytest.fixture
def make_client(clock: ManualClock) -> Callable[..., ZoomClient]:
    def make(provider: Any = None, **options: Any) -> ZoomClient:
        settings: dict[str, Any] = {
            "sleep": clock.sleep,
            "clock": clock.now,
            "wall_clock": lambda: WALL_NOW,
            "rng": MaxJitter(),
        }
        settings.update(options)
        return ZoomClient(API, provider or StaticTokenProvider("tok-static"), **settings)

    return make


def api_calls(mock: responses.RequestsMock) -> list[Any]:
    return [call for call in mock.calls if str(call.request.url).startswith(API)]


def query_of(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(call.request.url)).query)


def zoom_error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def meeting(meeting_id: int = 85746065) -> dict[str, Any]:
    return {
        "id": meeting_id,
        "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
        "host_id": "30R7kT7bTIKSNUFEuH_Qlg",
        "topic": "Team sync",
        "type": 2,
        "settings": {"waiting_room": False, "join_before_host": True, "auto_recording": "none"},
    }


def user(user_id: str) -> dict[str, Any]:
    return {"id": user_id, "email": f"{user_id}@example.com", "type": 2, "status": "active"}


def token_body(token: str) -> dict[str, Any]:
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": 3600,
        "scope": "meeting:read:admin",
        "api_url": "https://api.zoom.us",
    }


# --- paging ---------------------------------------------------------------------------------


def test_list_users_follows_next_page_token(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(
        f"{API}/users",
        match=[matchers.query_param_matcher({"status": "active", "page_size": "2000"})],
        json={"users": [user("u1"), user("u2")], "next_page_token": "p2", "page_size": 2000},
    )
    zoom.get(
        f"{API}/users",
        match=[
            matchers.query_param_matcher(
                {"status": "active", "page_size": "2000", "next_page_token": "p2"}
            )
        ],
        json={"users": [user("u3")], "next_page_token": "", "page_size": 2000},
    )

    users = list(make_client().list_users())  # by default in the largest pages Zoom allows

    assert [u["id"] for u in users] == ["u1", "u2", "u3"]
    assert len(api_calls(zoom)) == 2


def test_list_meetings_pages_and_asks_for_scheduled(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    pages = [("", "t1", [1, 2]), ("t1", "t2", [3]), ("t2", "", [4, 5])]
    for asked, following, ids in pages:
        query = {"type": "scheduled", "page_size": "300"}
        if asked:
            query["next_page_token"] = asked
        zoom.get(
            f"{API}/users/u@example.com/meetings",
            match=[matchers.query_param_matcher(query)],
            json={
                "meetings": [{"id": i, "uuid": f"uuid{i}", "topic": "t"} for i in ids],
                "next_page_token": following,
                "page_size": 300,
            },
        )

    ids = [m["id"] for m in make_client().list_meetings("u@example.com")]

    assert ids == [1, 2, 3, 4, 5]


def test_a_repeated_page_token_stops_the_listing(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/groups", json={"groups": [{"id": "g"}], "next_page_token": "same"})
    with pytest.raises(ZoomAPIError, match="repeated a next_page_token"):
        list(make_client().list_groups())
    assert len(api_calls(zoom)) == 2


def test_list_user_recordings_splits_long_ranges_and_deduplicates(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(
        f"{API}/users/u1/recordings",
        json={
            "from": "2026-01-01",
            "to": "2026-01-28",
            "meetings": [{"uuid": "A==", "id": 1}, {"uuid": "B==", "id": 2}],
            "next_page_token": "",
        },
    )

    found = list(make_client().list_user_recordings("u1", date(2026, 1, 1), date(2026, 3, 15)))

    windows = [(query_of(c)["from"][0], query_of(c)["to"][0]) for c in api_calls(zoom)]
    assert windows == [
        ("2026-01-01", "2026-01-28"),
        ("2026-01-29", "2026-02-25"),
        ("2026-02-26", "2026-03-15"),
    ]
    assert [m["uuid"] for m in found] == ["A==", "B=="]


# --- tokens ---------------------------------------------------------------------------------


def test_s2s_token_is_fetched_with_basic_auth_and_account_credentials(
    zoom: responses.RequestsMock,
) -> None:
    zoom.post(TOKEN_URL, json=token_body("tok-1"))
    provider = S2STokenProvider(TOKEN_URL, "acc-1", "client-1", SECRET)

    assert provider.token() == "tok-1"

    request = zoom.calls[0].request
    expected = base64.b64encode(f"client-1:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    form = parse_qs(str(request.body))
    assert form == {"grant_type": ["account_credentials"], "account_id": ["acc-1"]}
    assert provider.api_url == "https://api.zoom.us"


def test_s2s_token_is_renewed_five_minutes_before_expiry(zoom: responses.RequestsMock) -> None:
    zoom.post(TOKEN_URL, json=token_body("tok-1"))
    zoom.post(TOKEN_URL, json=token_body("tok-2"))
    now = [10_000.0]
    seen: list[tuple[str, float]] = []
    provider = S2STokenProvider(
        TOKEN_URL,
        "acc",
        "cid",
        SECRET,
        clock=lambda: now[0],
        on_token=lambda token, expires_at: seen.append((token, expires_at)),
    )

    assert provider.token() == "tok-1"
    now[0] += 3600 - 301
    assert provider.token() == "tok-1"
    now[0] += 2
    assert provider.token() == "tok-2"
    assert provider.fetch_count == 2
    assert seen == [("tok-1", 13_600.0), ("tok-2", 10_000.0 + 3301 + 3600)]


def test_sixteen_threads_share_one_token_fetch(zoom: responses.RequestsMock) -> None:
    def slow_token_endpoint(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        # A slow answer keeps the other threads waiting while the fetch is in flight; without
        # the provider's lock they would all fetch.
        time.sleep(0.05)
        return 200, {}, json.dumps(token_body("tok-1"))

    zoom.add_callback(responses.POST, TOKEN_URL, callback=slow_token_endpoint)
    provider = S2STokenProvider(TOKEN_URL, "acc", "cid", SECRET)
    barrier = threading.Barrier(16)
    tokens: list[str] = []

    def worker() -> None:
        barrier.wait()
        tokens.append(provider.token())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert tokens == ["tok-1"] * 16
    assert len(zoom.calls) == 1


def test_threads_that_saw_the_same_stale_token_renew_it_once(
    zoom: responses.RequestsMock,
) -> None:
    zoom.post(TOKEN_URL, json=token_body("tok-1"))
    zoom.post(TOKEN_URL, json=token_body("tok-2"))
    zoom.post(TOKEN_URL, json=token_body("tok-3"))
    provider = S2STokenProvider(TOKEN_URL, "acc", "cid", SECRET)
    stale = provider.token()
    barrier = threading.Barrier(16)
    renewed: list[str] = []

    def worker() -> None:
        barrier.wait()
        provider.invalidate(stale)
        renewed.append(provider.token())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert renewed == ["tok-2"] * 16
    assert provider.fetch_count == 2


def test_rejected_credentials_say_what_to_check_without_the_secret(
    zoom: responses.RequestsMock,
) -> None:
    zoom.post(
        TOKEN_URL,
        status=400,
        json={"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
    )
    provider = S2STokenProvider(TOKEN_URL, "acc", "cid", SECRET)

    with pytest.raises(ZoomAuthError) as caught:
        provider.token()

    text = str(caught.value)
    assert "\n" not in text
    assert "invalid_client" in text
    assert "ZOOM_CLIENT_SECRET" in text
    assert SECRET not in text
    assert SECRET not in repr(provider)
    assert caught.value.status == 400


def test_token_endpoint_outage_is_unavailable_not_auth(zoom: responses.RequestsMock) -> None:
    zoom.post(TOKEN_URL, status=503, body="down")
    provider = S2STokenProvider(TOKEN_URL, "acc", "cid", SECRET)
    with pytest.raises(ZoomUnavailable):
        provider.token()


def test_expired_token_401_124_is_renewed_once_then_succeeds(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.post(TOKEN_URL, json=token_body("tok-old"))
    zoom.post(TOKEN_URL, json=token_body("tok-new"))
    zoom.get(
        f"{API}/meetings/85746065",
        status=401,
        json=zoom_error(124, "Access token is expired."),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-old"})],
    )
    zoom.get(
        f"{API}/meetings/85746065",
        json=meeting(),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-new"})],
    )
    client = make_client(S2STokenProvider(TOKEN_URL, "acc", "cid", SECRET))

    assert client.get_meeting(85746065) == meeting()
    assert client.stats.snapshot()["auth_retries"] == 1


def test_a_second_401_raises_auth_error(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/meetings/1", status=401, json=zoom_error(124, "Invalid access token."))
    with pytest.raises(ZoomAuthError) as caught:
        make_client().get_meeting(1)
    assert caught.value.code == 124
    assert len(api_calls(zoom)) == 2


# --- rate limits and retries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "expected_wait"),
    [
        ("3", 3.0),
        (formatdate(WALL_NOW + 7, usegmt=True), 7.0),
        ("2026-03-02T12:00:12Z", 12.0),
    ],
    ids=["seconds", "http-date", "iso-8601"],
)
def test_429_waits_for_retry_after_then_succeeds(
    zoom: responses.RequestsMock,
    make_client: Callable[..., ZoomClient],
    clock: ManualClock,
    retry_after: str,
    expected_wait: float,
) -> None:
    zoom.get(
        f"{API}/meetings/1",
        status=429,
        json=zoom_error(429, "You have reached the maximum per-second rate limit for this API."),
        headers={"Retry-After": retry_after},
    )
    zoom.get(f"{API}/meetings/1", json=meeting(1))
    client = make_client()

    assert client.get_meeting(1) == meeting(1)
    assert clock.sleeps == [expected_wait]
    stats = client.stats.snapshot()
    assert stats["calls"] == {LIGHT: {"200": 1, "429": 1}}
    assert stats["rate_limited"] == 1
    assert stats["retries"] == 1


def test_a_429_slows_the_category_without_stalling_it(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient], clock: ManualClock
) -> None:
    zoom.get(
        f"{API}/meetings/1", status=429, json=zoom_error(429, "slow"), headers={"Retry-After": "4"}
    )
    zoom.get(f"{API}/meetings/1", json=meeting(1))
    zoom.get(f"{API}/meetings/2", json=meeting(2))
    client = make_client(rate_light=10)
    limiter = client.limiters[LIGHT]
    before = limiter.rate
    client.get_meeting(1)
    assert 4.0 in clock.sleeps  # the rate-limited request itself waited for Retry-After
    assert limiter.rate < before  # cut, and still climbing back after the 4 s
    assert limiter.cuts == 1
    started = clock.now()
    client.get_meeting(2)
    # The next request of the category waits one interval at the cut rate, not Retry-After.
    assert clock.now() - started <= 1.0 / (before * limiter.decrease) + 1e-9


def test_429_without_retry_after_backs_off_exponentially(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient], clock: ManualClock
) -> None:
    for _ in range(2):
        zoom.get(f"{API}/meetings/1", status=429, json=zoom_error(4001, "Too many requests"))
    zoom.get(f"{API}/meetings/1", json=meeting(1))

    assert make_client(backoff_base=0.5).get_meeting(1) == meeting(1)
    assert clock.sleeps == [0.5, 1.0]


def test_429_outliving_the_retries_raises_rate_limited(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/meetings/1", status=429, json=zoom_error(429, "Too many requests"))
    with pytest.raises(ZoomRateLimited) as caught:
        make_client(max_retries=2).get_meeting(1)
    assert caught.value.reason == "zoom_rate_limited"
    assert len(api_calls(zoom)) == 3


def test_far_retry_after_gives_up_instead_of_sleeping(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient], clock: ManualClock
) -> None:
    zoom.get(
        f"{API}/users",
        status=429,
        json=zoom_error(429, "You have reached the maximum daily rate limit for this API."),
        headers={"Retry-After": "2026-03-03T00:00:00Z", "X-RateLimit-Type": "Daily-limit"},
    )
    with pytest.raises(ZoomRateLimited) as caught:
        list(make_client().list_users())
    assert caught.value.reason == "daily_limit"
    assert "2026-03-03T00:00:00Z" in str(caught.value)
    assert clock.sleeps == []
    assert len(api_calls(zoom)) == 1


def test_daily_meeting_update_limit_is_recognised_without_reading_words(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient], clock: ManualClock
) -> None:
    # A French-language account: only the words say it is the daily cap, so zoomguard backs
    # off once and takes a 429 that repeats on a meeting update for the cap.
    zoom.patch(
        f"{API}/meetings/1",
        status=429,
        json=zoom_error(
            429,
            "Vous avez dépassé la limite quotidienne (100) de requêtes de création ou de mise "
            "à jour de réunion pour cet utilisateur.",
        ),
    )
    with pytest.raises(ZoomRateLimited) as caught:
        make_client().update_meeting(1, {"settings": {"waiting_room": True}})
    assert caught.value.reason == "daily_update_limit"
    assert caught.value.status == 429
    assert len(clock.sleeps) == 1
    assert len(api_calls(zoom)) == 2


def test_daily_meeting_update_limit_with_zoom_s_headers_is_not_retried(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient], clock: ManualClock
) -> None:
    zoom.patch(
        f"{API}/meetings/1",
        status=429,
        json=zoom_error(429, "Limite quotidienne atteinte."),
        headers={"Retry-After": "2026-03-03T00:00:00Z", "X-RateLimit-Type": "Daily-limit"},
    )
    with pytest.raises(ZoomRateLimited) as caught:
        make_client().update_meeting(1, {"settings": {"waiting_room": True}})
    assert caught.value.reason == "daily_update_limit"
    assert clock.sleeps == []
    assert len(api_calls(zoom)) == 1


def test_a_missing_scope_is_told_by_its_code(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(
        f"{API}/users/u1/meetings",
        status=400,
        json=zoom_error(4711, "Jeton d'accès non valide, il ne contient pas les autorisations"),
    )
    with pytest.raises(ZoomScopeMissing) as caught:
        list(make_client().list_meetings("u1"))
    assert caught.value.reason == "missing_scope"


def test_an_expired_page_token_lists_again_from_the_start(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    users = [user(f"u{n}") for n in range(3)]
    zoom.get(f"{API}/users", json={"users": users[:2], "next_page_token": "t1"})
    zoom.get(f"{API}/users", status=400, json=zoom_error(300, "Le jeton a expiré."))
    zoom.get(f"{API}/users", json={"users": users[:2], "next_page_token": "t2"})
    zoom.get(f"{API}/users", json={"users": users[2:], "next_page_token": ""})
    listed = [user["id"] for user in make_client().list_users(page_size=2)]
    assert listed == ["u0", "u1", "u2"]
    tokens = [query_of(call).get("next_page_token") for call in api_calls(zoom)]
    assert tokens == [None, ["t1"], None, ["t2"]]


def test_5xx_is_retried_a_bounded_number_of_times(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient], clock: ManualClock
) -> None:
    zoom.get(f"{API}/meetings/1", status=503, json=zoom_error(503, "unavailable"))
    with pytest.raises(ZoomUnavailable, match="3 attempts"):
        make_client(max_retries=2).get_meeting(1)
    assert len(api_calls(zoom)) == 3
    assert clock.sleeps == [1.0, 2.0]


def test_5xx_then_success(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/meetings/1", status=502, json=zoom_error(502, "bad gateway"))
    zoom.get(f"{API}/meetings/1", json=meeting(1))
    client = make_client()
    assert client.get_meeting(1) == meeting(1)
    assert client.stats.snapshot()["calls"][LIGHT] == {"200": 1, "502": 1}


def test_connection_errors_are_retried_then_unavailable(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/meetings/1", body=requests.ConnectionError("connection refused"))
    observed: list[tuple[str, str, int]] = []
    client = make_client(max_retries=1, on_response=lambda c, m, s, _: observed.append((c, m, s)))
    with pytest.raises(ZoomUnavailable, match="ConnectionError after 2 attempts"):
        client.get_meeting(1)
    assert observed == [(LIGHT, "GET", 0), (LIGHT, "GET", 0)]


def test_backoff_ceiling_is_capped(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient], clock: ManualClock
) -> None:
    zoom.get(f"{API}/meetings/1", status=500, json=zoom_error(500, "oops"))
    with pytest.raises(ZoomUnavailable):
        make_client(max_retries=6, backoff_cap=10.0).get_meeting(1)
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


# --- errors and endpoints -------------------------------------------------------------------


def test_deleted_meeting_returns_none(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/meetings/7", status=404, json=zoom_error(3001, "Meeting does not exist: 7."))
    assert make_client().get_meeting(7) is None


def test_other_404_raises_not_found_with_zoom_code(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/users/gone/settings", status=404, json=zoom_error(1001, "User not exist."))
    with pytest.raises(ZoomNotFound) as caught:
        make_client().get_user_settings("gone")
    assert (caught.value.status, caught.value.code) == (404, 1001)
    assert "User not exist." in str(caught.value)


def test_other_4xx_raises_api_error_with_status_code_and_message(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.patch(f"{API}/meetings/1", status=400, json=zoom_error(300, "Invalid enforce_login."))
    with pytest.raises(ZoomAPIError) as caught:
        make_client().update_meeting(1, {"settings": {"waiting_room": True}})
    error = caught.value
    assert type(error) is ZoomAPIError
    assert (error.status, error.code, error.message) == (400, 300, "Invalid enforce_login.")
    assert (error.method, error.path) == ("PATCH", "/meetings/1")


def test_update_meeting_sends_json_and_never_logs_the_body(
    zoom: responses.RequestsMock,
    make_client: Callable[..., ZoomClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    zoom.patch(f"{API}/meetings/1", status=500, json=zoom_error(500, "oops"))
    zoom.patch(f"{API}/meetings/1", status=204)
    body = {"password": "Xy7pQ2", "settings": {"waiting_room": True}}
    caplog.set_level(logging.DEBUG)

    make_client().update_meeting(1, body)

    sent = api_calls(zoom)[-1].request
    assert json.loads(sent.body) == body
    assert "Xy7pQ2" not in caplog.text
    assert "tok-static" not in caplog.text


def test_stop_recording_uses_live_meeting_events(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.patch(
        f"{API}/live_meetings/93398114182/events",
        status=202,
        match=[matchers.json_params_matcher({"method": "recording.stop"})],
    )
    client = make_client()
    client.stop_recording(93398114182)
    assert client.stats.snapshot()["calls"] == {MEDIUM: {"202": 1}}


@pytest.mark.parametrize(
    ("uuid", "segment"),
    [
        ("85746065", "85746065"),
        ("aDYlohsHRtCd4ii1uC2+hA==", "aDYlohsHRtCd4ii1uC2%2BhA%3D%3D"),
        ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
        ("ab//cd==", "ab%252F%252Fcd%253D%253D"),
        ("ab/cd==", "ab%2Fcd%3D%3D"),
    ],
)
def test_meeting_uuids_are_encoded_as_zoom_requires(
    zoom: responses.RequestsMock,
    make_client: Callable[..., ZoomClient],
    uuid: str,
    segment: str,
) -> None:
    assert encode_meeting_id(uuid) == segment
    zoom.delete(
        f"{API}/meetings/{segment}/recordings",
        status=204,
        match=[matchers.query_param_matcher({"action": "trash"})],
    )
    assert make_client().delete_recordings(uuid) is True
    assert (
        urlsplit(str(api_calls(zoom)[0].request.url)).path == f"/v2/meetings/{segment}/recordings"
    )


def test_delete_recordings_reports_no_recording(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.delete(f"{API}/meetings/1/recordings", status=404, json=zoom_error(3301, "No recording."))
    assert make_client().delete_recordings(1, action="delete") is False
    assert query_of(api_calls(zoom)[0]) == {"action": ["delete"]}
    with pytest.raises(ValueError, match="action"):
        make_client().delete_recordings(1, action="shred")


def test_get_recordings_returns_none_without_recordings(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/meetings/1/recordings", status=404, json=zoom_error(3301, "No recording."))
    zoom.get(
        f"{API}/meetings/2/recordings",
        json={"uuid": "x==", "id": 2, "recording_files": [], "total_size": 0},
    )
    client = make_client()
    assert client.get_recordings(1) is None
    assert client.get_recordings(2) == {
        "uuid": "x==",
        "id": 2,
        "recording_files": [],
        "total_size": 0,
    }


SETTINGS_CALLS: list[tuple[str, Callable[[ZoomClient], object], str, str, dict[str, list[str]]]] = [
    (
        "account settings",
        lambda c: c.get_account_settings(option="meeting_security"),
        "GET",
        "/v2/accounts/me/settings",
        {"option": ["meeting_security"]},
    ),
    (
        "account settings update",
        lambda c: c.update_account_settings({"recording": {"local_recording": False}}),
        "PATCH",
        "/v2/accounts/me/settings",
        {},
    ),
    (
        "account locks",
        lambda c: c.get_account_lock_settings("acc1"),
        "GET",
        "/v2/accounts/acc1/lock_settings",
        {},
    ),
    (
        "account locks update",
        lambda c: c.update_account_lock_settings({"recording": {"local_recording": True}}),
        "PATCH",
        "/v2/accounts/me/lock_settings",
        {},
    ),
    (
        "group settings",
        lambda c: c.get_group_settings("g1", option="meeting_security"),
        "GET",
        "/v2/groups/g1/settings",
        {"option": ["meeting_security"]},
    ),
    (
        "group settings update",
        lambda c: c.update_group_settings("g1", {"in_meeting": {"file_transfer": False}}),
        "PATCH",
        "/v2/groups/g1/settings",
        {},
    ),
    (
        "group locks",
        lambda c: c.get_group_lock_settings("g1"),
        "GET",
        "/v2/groups/g1/lock_settings",
        {},
    ),
    (
        "group locks update",
        lambda c: c.update_group_lock_settings(
            "g1", {"meeting_security": {"waiting_room": True}}, option="meeting_security"
        ),
        "PATCH",
        "/v2/groups/g1/lock_settings",
        {"option": ["meeting_security"]},
    ),
    (
        "user settings",
        lambda c: c.get_user_settings("u1"),
        "GET",
        "/v2/users/u1/settings",
        {},
    ),
    (
        "user settings update",
        lambda c: c.update_user_settings("u1", {"recording": {"auto_recording": "none"}}),
        "PATCH",
        "/v2/users/u1/settings",
        {},
    ),
    (
        "end meeting",
        lambda c: c.end_meeting(5),
        "PUT",
        "/v2/meetings/5/status",
        {},
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "query"),
    [entry[1:] for entry in SETTINGS_CALLS],
    ids=[entry[0] for entry in SETTINGS_CALLS],
)
def test_settings_endpoints_use_documented_paths_and_medium_or_light_category(
    zoom: responses.RequestsMock,
    make_client: Callable[..., ZoomClient],
    call: Callable[[ZoomClient], object],
    method: str,
    path: str,
    query: dict[str, list[str]],
) -> None:
    url = "https://api.zoom.us" + path
    if method == "GET":
        zoom.get(url, json={"recording": {"local_recording": True}})
    else:
        # Zoom documents 200 without a body for PATCH account lock_settings, 204 elsewhere
        zoom.add(method, url, status=200 if path.endswith("me/lock_settings") else 204)
    client = make_client()

    call(client)

    sent = api_calls(zoom)[0]
    assert (sent.request.method, urlsplit(str(sent.request.url)).path) == (method, path)
    assert query_of(sent) == query
    expected = LIGHT if path.startswith("/v2/meetings") else MEDIUM
    assert list(client.stats.snapshot()["calls"]) == [expected]


def test_from_settings_needs_s2s_credentials() -> None:
    with pytest.raises(ConfigError, match="ZOOM_CLIENT_SECRET"):
        ZoomClient.from_settings(Settings())
    client = ZoomClient.from_settings(
        Settings(
            zoom_account_id="a",
            zoom_client_id="c",
            zoom_client_secret=SECRET,
            rate_light=8,
            rate_share=0.5,
        )
    )
    with client:
        assert client.api_url == API
        # Half the plan's 8/s, paced a little under it for latency jitter.
        assert client.limiters[LIGHT].ceiling == pytest.approx(4 * JITTER_HEADROOM)


# --- concurrency ----------------------------------------------------------------------------


def test_threads_through_the_client_never_exceed_the_light_rate(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.get(f"{API}/meetings/1", json=meeting(1))
    client = make_client(rate_light=5)
    limiter = client.limiters[LIGHT]
    granted: list[float] = []
    lock = threading.Lock()
    acquire = limiter.acquire

    def recording_acquire() -> float:
        slot = acquire()
        with lock:
            granted.append(slot)
        return slot

    limiter.acquire = recording_acquire  # type: ignore[method-assign]
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            client.get_meeting(1)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(granted) == 80
    ordered = sorted(granted)
    worst = max(sum(1 for t in ordered if s <= t < s + 1.0) for s in ordered)
    assert worst == 5
    assert client.stats.snapshot()["calls"] == {LIGHT: {"200": 80}}


# --- helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("Mon, 02 Mar 2026 12:01:00 GMT", 60.0),
        ("2026-03-02T13:00:00Z", 3600.0),
        ("2026-03-02T13:00:00", 3600.0),
        ("2020-05-31T00:00:00Z", 0.0),
        ("soon", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, WALL_NOW) == expected


def test_a_seeded_token_is_used_until_it_is_due_for_renewal() -> None:
    from zoomguard.zoom.tokens import S2STokenProvider

    now = [1_000.0]
    provider = S2STokenProvider(
        "https://zoom.example/oauth/token", "acct", "id", "secret", clock=lambda: now[0]
    )
    provider.seed("stored-token", expires_at=now[0] + 3600)
    assert provider.token() == "stored-token"
    assert provider.fetch_count == 0
    provider.seed("other", expires_at=now[0] + 7200)  # an existing token is not replaced
    assert provider.token() == "stored-token"


def test_requests_are_sent_as_requests_would_prepare_them(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    """The transport prepares requests itself (not through Session.request): the wire format,
    the headers and the encoding of IDs and parameters must stay what Zoom expects."""
    uuid = "/ajXp112QmuoKj4854875=="  # starts with "/": double-encoded
    encoded = "%252FajXp112QmuoKj4854875%253D%253D"
    zoom.patch(f"{API}/meetings/85746065", status=204)
    zoom.delete(f"{API}/meetings/{encoded}/recordings", status=204)
    client = make_client()
    body = {"settings": {"waiting_room": True}, "password": "Zq8#k ä"}
    client.update_meeting(85746065, body, occurrence_id="1648194360000")
    client.delete_recordings(uuid)
    patch, delete = (call.request for call in api_calls(zoom))
    assert patch.method == "PATCH"
    assert patch.url == f"{API}/meetings/85746065?occurrence_id=1648194360000"
    assert patch.headers["Authorization"] == "Bearer tok-static"
    assert patch.headers["Accept"] == "application/json"
    assert patch.headers["Content-Type"] == "application/json"
    assert int(patch.headers["Content-Length"]) == len(patch.body)
    assert json.loads(patch.body) == body
    assert delete.url == f"{API}/meetings/{encoded}/recordings?action=trash"
    assert delete.body is None
    assert "Content-Type" not in delete.headers


def test_a_warmed_token_is_fetched_once_and_used_by_the_first_request(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.post(TOKEN_URL, json=token_body("tok-warm"))
    zoom.get(f"{API}/users/u1", json=user("u1"))
    client = make_client(S2STokenProvider(TOKEN_URL, "acc", "cid", SECRET))
    client.warm_token().join(5)
    assert [call.request.url for call in zoom.calls] == [f"{TOKEN_URL}"]
    client.get_user("u1")
    token_posts = [c for c in zoom.calls if str(c.request.url).startswith(TOKEN_URL)]
    assert len(token_posts) == 1  # the first request found the warmed token
    assert api_calls(zoom)[0].request.headers["Authorization"] == "Bearer tok-warm"


def test_a_failed_warm_up_is_raised_by_the_first_request(
    zoom: responses.RequestsMock, make_client: Callable[..., ZoomClient]
) -> None:
    zoom.post(TOKEN_URL, status=401, json={"reason": "Invalid client_id or client_secret"})
    client = make_client(S2STokenProvider(TOKEN_URL, "acc", "cid", SECRET))
    client.warm_token().join(5)  # fails quietly in its thread
    with pytest.raises(ZoomAuthError):
        client.get_user("u1")

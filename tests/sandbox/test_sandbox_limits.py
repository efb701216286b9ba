"""Rate limits (per-second per category, the per-user daily update cap), latency that does not
serialise requests, random 500s and dropped connections, and scripted faults."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support.sandbox import running

from zoomguard.sandbox import SandboxConfig
from zoomguard.sandbox.config import PLAN_RATES
from zoomguard.sandbox.ratelimit import RateLimiter


def test_plans_have_zooms_per_second_limits() -> None:
    assert SandboxConfig(plan="free").rate("light") == PLAN_RATES["free"]["light"] == 4
    assert SandboxConfig(plan="free").rate("medium") == 2
    assert (SandboxConfig(plan="pro").rate("light"), SandboxConfig().rate("medium")) == (30, 20)
    assert SandboxConfig(plan="business").rate("light") == 80
    assert SandboxConfig(plan="business", rate_medium=5).rate("medium") == 5
    with pytest.raises(ValueError, match="plan"):
        SandboxConfig(plan="enterprise-ish")


def test_burst_past_the_medium_limit_gets_429_with_retry_after() -> None:
    with running(SandboxConfig(plan="free", users=1)) as (server, api):
        responses = [api.get("/users") for _ in range(5)]
        statuses = [r.status_code for r in responses]
        assert statuses[:2] == [200, 200]
        limited = [r for r in responses if r.status_code == 429]
        assert len(limited) >= 2
        assert limited[0].json() == {
            "code": 4001,
            "message": "You have reached the maximum per-second rate limit for this API. "
            "Try again later.",
        }
        assert limited[0].headers["Retry-After"] == "1"
        assert limited[0].headers["X-RateLimit-Category"] == "Medium"
        # Light endpoints have their own budget.
        meeting_id = next(iter(server.state.meetings), None)
        assert api.get(f"/meetings/{meeting_id or 1}").status_code in (200, 404)
        time.sleep(1.0)
        assert api.get("/users").status_code == 200


def test_pacing_at_the_published_rate_never_sees_429() -> None:
    clock = [0.0]
    limiter = RateLimiter(lambda category: 20.0, clock=lambda: clock[0])
    waits = []
    for _ in range(200):
        waits.append(limiter.acquire("light"))
        clock[0] += 1 / 20.0
    assert max(waits) == 0.0
    burst = [limiter.acquire("light") for _ in range(25)]
    assert burst.count(0.0) <= 20
    assert burst[-1] > 0


def test_daily_update_cap_per_host() -> None:
    with running(SandboxConfig(daily_update_limit=3, enforce_rate_limits=False)) as (server, api):
        host = server.state.add_user("busy@example.org")
        other = server.state.add_user("calm@example.org")
        meeting = server.state.add_meeting(host)
        for n in range(2):
            assert api.patch(f"/meetings/{meeting['id']}", {"agenda": f"v{n}"}).status_code == 204
        created = api.call("POST", f"/users/{host['id']}/meetings", json_body={"topic": "New"})
        assert created.status_code == 201  # creates count against the same cap
        capped = api.patch(f"/meetings/{meeting['id']}", {"agenda": "v3"})
        assert capped.status_code == 429
        assert capped.json() == {
            "code": 429,
            "message": "You have exceeded the daily rate limit (3) of Meeting Create/Update API "
            "requests permitted for this particular user. You may resume these requests at GMT "
            "00:00:00.",
        }
        assert capped.headers["Retry-After"].endswith("T00:00:00Z")
        assert server.state.meetings[meeting["id"]]["agenda"] == "v1"
        other_meeting = server.state.add_meeting(other)
        assert api.patch(f"/meetings/{other_meeting['id']}", {"agenda": "ok"}).status_code == 204


def test_default_daily_cap_message_says_100() -> None:
    with running(SandboxConfig(enforce_rate_limits=False)) as (server, api):
        host = server.state.add_user("busy@example.org")
        meeting = server.state.add_meeting(host)
        for _ in range(100):
            assert server.state.update_counter.try_count(host["id"], 100)
        capped = api.patch(f"/meetings/{meeting['id']}", {"agenda": "one more"})
        assert "daily rate limit (100)" in capped.json()["message"]


def test_latency_is_applied_in_parallel() -> None:
    with running(SandboxConfig(users=1, latency_ms=200, enforce_rate_limits=False)) as (
        server,
        api,
    ):
        url = server.api_url + "/users"
        headers = {"Authorization": f"Bearer {api.token}"}

        def one(_: int) -> float:
            started = time.monotonic()
            requests.get(url, headers=headers, timeout=5).raise_for_status()
            return time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=12) as pool:
            durations = list(pool.map(one, range(12)))
        elapsed = time.monotonic() - started
        assert min(durations) >= 0.2
        assert elapsed < 1.0  # 12 x 200 ms one after another would take 2.4 s


def test_error_rate_gives_500_and_drop_rate_drops_the_connection() -> None:
    with running(SandboxConfig(users=1, error_rate=1.0, enforce_rate_limits=False)) as (
        server,
        api,
    ):
        response = api.get("/users")
        assert response.status_code == 500
        assert response.json()["code"] == 500
        server.config.error_rate = 0.0
        server.config.drop_rate = 1.0
        with pytest.raises(requests.ConnectionError):
            requests.get(
                server.api_url + "/users",
                headers={"Authorization": f"Bearer {api.token}"},
                timeout=5,
            )
        assert server.state.request_log()[-1].status == 0
        server.config.drop_rate = 0.0
        assert api.get("/users").status_code == 200


def test_error_rate_is_a_share() -> None:
    with running(SandboxConfig(users=1, error_rate=0.3, enforce_rate_limits=False)) as (_, api):
        statuses = [api.get("/users").status_code for _ in range(100)]
    assert 10 <= statuses.count(500) <= 50
    assert statuses.count(200) == 100 - statuses.count(500)


def test_fail_once_by_meeting_and_by_path() -> None:
    with running(SandboxConfig(users=1, meetings=2, enforce_rate_limits=False)) as (server, api):
        first, second = list(server.state.meetings)
        server.state.fail_once("GET", first, status=429, retry_after="2")
        limited = api.get(f"/meetings/{first}")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert limited.json()["code"] == 4001
        assert api.get(f"/meetings/{first}").status_code == 200
        server.state.fail_once("PATCH", f"/meetings/{second}", status=500, times=2)
        assert api.patch(f"/meetings/{second}", {"agenda": "a"}).status_code == 500
        assert api.patch(f"/meetings/{second}", {"agenda": "a"}).status_code == 500
        assert api.patch(f"/meetings/{second}", {"agenda": "a"}).status_code == 204
        server.state.fail_once("GET", "/v2/users", status=0)
        with pytest.raises(requests.ConnectionError):
            requests.get(
                server.api_url + "/users",
                headers={"Authorization": f"Bearer {api.token}"},
                timeout=5,
            )
        server.state.fail_once("POST", "/oauth/token", status=503)
        token = requests.post(server.oauth_url + "/oauth/token", timeout=5)
        assert token.status_code == 503
        assert server.state.pending_faults() == []


def test_meeting_deleted_between_list_and_get() -> None:
    with running(SandboxConfig(enforce_rate_limits=False)) as (server, api):
        host = server.state.add_user("host@example.org")
        doomed = server.state.add_meeting(host)
        kept = server.state.add_meeting(host)
        server.state.delete_after_list(doomed["id"])
        listed = api.get(f"/users/{host['id']}/meetings").json()["meetings"]
        assert {m["id"] for m in listed} == {doomed["id"], kept["id"]}
        gone = api.get(f"/meetings/{doomed['id']}")
        assert (gone.status_code, gone.json()["code"]) == (404, 3001)
        assert api.get(f"/meetings/{kept['id']}").status_code == 200
        deleted = server.state.events_snapshot("meeting.deleted")
        assert [e["payload"]["object"]["id"] for e in deleted] == [doomed["id"]]


def test_requests_are_counted_when_the_network_delivers_them_even_if_counted_late() -> None:
    """The sandbox's threads may count arrivals out of order; each is judged at its arrival,
    against every arrival within the second before it and any counted after it."""
    from zoomguard.sandbox.ratelimit import RateLimiter

    limiter = RateLimiter(lambda _category: 3.0, clock=lambda: 100.0)
    # Delivered 0.4 to 0.5 s apart, all counted at one moment (the clock says 100.0).
    assert [limiter.acquire("light", at=t) for t in (99.5, 99.9, 100.4)] == [0.0, 0.0, 0.0]
    # Delivered at 100.2 but counted after 100.4: the second from 99.5 to 100.5 would hold four.
    assert limiter.acquire("light", at=100.2) > 0
    # Delivered at 100.6: 99.5 has left its second, and the refused 100.2 was not counted.
    assert limiter.acquire("light", at=100.6) == 0.0
    # Without ``at``, the limiter's clock is the arrival: 100.0 is within a second of three.
    assert limiter.acquire("light") > 0

"""Pacing end to end: the sandbox counts its per-second window on arrival, after latency and
jitter, and a sweep paced at the whole budget (share 1.0) still gets no 429."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests
from support.commands import zoomguard_env

from zoomguard.config import Settings
from zoomguard.errors import ConfigError
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.ratelimit import RateLimiter
from zoomguard.service import Sweeper, client_for_account, env_account, load_profile
from zoomguard.service.clients import WORKER_RATE_PART
from zoomguard.store import Store, upgrade


def test_sandbox_allows_the_rate_in_any_one_second_window() -> None:
    now = [10.0]
    limiter = RateLimiter(lambda category: 3.0, clock=lambda: now[0])
    assert [limiter.acquire("light") for _ in range(3)] == [0.0, 0.0, 0.0]
    now[0] = 10.6
    # A fourth within the same second is refused until the first ones leave the window.
    assert limiter.acquire("light") == pytest.approx(0.4)
    assert limiter.acquire("medium") == 0.0  # each category has its own window
    now[0] = 11.0
    assert limiter.acquire("light") == 0.0
    assert limiter.acquire("light") == 0.0
    assert limiter.acquire("light") == 0.0
    assert limiter.acquire("light") > 0


def _token(sandbox: SandboxServer) -> str:
    config = sandbox.config
    answer = requests.post(
        f"{sandbox.oauth_url}/oauth/token",
        params={"grant_type": "account_credentials", "account_id": config.account_id},
        auth=(config.client_id, config.client_secret),
        timeout=10,
    )
    return str(answer.json()["access_token"])


def test_the_sandbox_counts_a_request_when_it_arrives_after_the_latency() -> None:
    # One medium request per second. A is sent first but travels 0.6 s; B is sent 0.1 s later
    # and travels none: B arrives first and is counted, A arrives inside B's second: 429.
    with SandboxServer(SandboxConfig(users=1, rate_medium=1, latency_ms=600)) as sandbox:
        headers = {"Authorization": f"Bearer {_token(sandbox)}"}
        statuses: dict[str, int] = {}

        def send(name: str) -> None:
            answer = requests.get(f"{sandbox.api_url}/users", headers=headers, timeout=10)
            statuses[name] = answer.status_code

        first = threading.Thread(target=send, args=("A",))
        first.start()
        time.sleep(0.1)
        sandbox.config.latency_ms = 0
        send("B")
        first.join(timeout=10)
    assert statuses == {"A": 429, "B": 200}


def test_a_sweep_at_the_whole_budget_sees_no_429_through_latency_jitter(tmp_path: Path) -> None:
    config = SandboxConfig(users=3, meetings=90, latency_ms=50, latency_jitter_ms=25, seed=17)
    with SandboxServer(config) as sandbox:
        env = zoomguard_env(sandbox, tmp_path / "z.db", ZOOMGUARD_RATE_SHARE="1")
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        store = Store.open(settings)
        try:
            account = env_account(settings, store)
            client = client_for_account(settings, store, account)
            sweeper = Sweeper(settings, store, client, account, profile=load_profile(settings))
            result = sweeper.run()
            client.close()
        finally:
            store.close()
        log = sandbox.state.request_log()
    assert result.status == "completed"
    assert result.counts.meetings == 90
    light = [record for record in log if record.category == "light"]
    assert len(light) > 90  # reads, fixes and re-reads: a few seconds at the limit
    assert [record.status for record in log if record.status == 429] == []


def test_the_rate_share_splits_the_plan_limits() -> None:
    settings = Settings.from_env({"ZOOMGUARD_RATE_SHARE": "0.5", "ZOOMGUARD_RATE_LIGHT": "80"})
    assert settings.api_rates() == (40.0, 10.0)
    assert settings.api_rates(WORKER_RATE_PART) == (10.0, 2.5)
    assert Settings.from_env({}).rate_share == 0.8
    with pytest.raises(ConfigError, match="ZOOMGUARD_RATE_SHARE must be at most 1"):
        Settings.from_env({"ZOOMGUARD_RATE_SHARE": "1.5"})
    with pytest.raises(ConfigError, match="ZOOMGUARD_RATE_SHARE"):
        Settings.from_env({"ZOOMGUARD_RATE_SHARE": "0"})

"""The sandbox's OAuth: Server-to-Server account_credentials, authorization_code with PKCE,
rotating refresh tokens, Zoom's error bodies, and token expiry on /v2 (code 124)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from support.sandbox import Api

from zoomguard.sandbox import SandboxConfig, SandboxServer

REDIRECT = "http://127.0.0.1:9/oauth/callback"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(users=2, meetings=2, seed=1)) as running:
        yield running


def token_request(server: SandboxServer, auth: tuple[str, str], **params: str) -> requests.Response:
    return requests.post(server.oauth_url + "/oauth/token", params=params, auth=auth, timeout=5)


def s2s_auth(server: SandboxServer) -> tuple[str, str]:
    return server.config.client_id, server.config.client_secret


def oauth_auth(server: SandboxServer) -> tuple[str, str]:
    return server.config.oauth_client_id, server.config.oauth_client_secret


def authorize(server: SandboxServer, **extra: str) -> dict[str, list[str]]:
    params = {
        "response_type": "code",
        "client_id": server.config.oauth_client_id,
        "redirect_uri": REDIRECT,
        **extra,
    }
    response = requests.get(
        server.oauth_url + "/oauth/authorize", params=params, allow_redirects=False, timeout=5
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_account_credentials_returns_zoom_token_response(server: SandboxServer) -> None:
    response = token_request(
        server,
        s2s_auth(server),
        grant_type="account_credentials",
        account_id=server.config.account_id,
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "api_url"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["api_url"] == server.base_url
    assert "meeting:update:meeting:admin" in body["scope"].split()
    api = Api(server, body["access_token"])
    assert api.get("/users").status_code == 200
    api.close()


def test_credentials_in_a_form_body_work_too(server: SandboxServer) -> None:
    response = requests.post(
        server.oauth_url + "/oauth/token",
        data={"grant_type": "account_credentials", "account_id": server.config.account_id},
        auth=s2s_auth(server),
        timeout=5,
    )
    assert response.status_code == 200


def test_wrong_secret_is_invalid_client(server: SandboxServer) -> None:
    response = token_request(
        server,
        (server.config.client_id, "wrong"),
        grant_type="account_credentials",
        account_id=server.config.account_id,
    )
    assert response.status_code == 401
    assert response.json() == {
        "reason": "Invalid client_id or client_secret",
        "error": "invalid_client",
    }
    no_auth = requests.post(
        server.oauth_url + "/oauth/token", params={"grant_type": "account_credentials"}, timeout=5
    )
    assert no_auth.status_code == 401


def test_wrong_account_id_is_rejected(server: SandboxServer) -> None:
    response = token_request(
        server, s2s_auth(server), grant_type="account_credentials", account_id="someone-else"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_unsupported_grant_type(server: SandboxServer) -> None:
    response = token_request(server, s2s_auth(server), grant_type="password")
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


def test_authorization_code_with_pkce_and_state(server: SandboxServer) -> None:
    verifier, challenge = pkce_pair()
    query = authorize(
        server, state="xyz-123", code_challenge=challenge, code_challenge_method="S256"
    )
    assert query["state"] == ["xyz-123"]
    code = query["code"][0]
    wrong = token_request(
        server,
        oauth_auth(server),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier="not-the-verifier",
    )
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")

    # A code is single use: the failed attempt consumed it, so authorize again.
    code = authorize(server, code_challenge=challenge, code_challenge_method="S256")["code"][0]
    response = token_request(
        server,
        oauth_auth(server),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "refresh_token",
        "expires_in",
        "scope",
        "api_url",
    }
    api = Api(server, body["access_token"])
    me = api.get("/users/me").json()
    assert me["id"] == server.state.owner_id  # the owner approved
    again = token_request(
        server,
        oauth_auth(server),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert again.json() == {"reason": "Invalid authorization code", "error": "invalid_grant"}
    api.close()


def test_pkce_missing_verifier_and_plain_method_are_refused(server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    code = authorize(server, code_challenge=challenge, code_challenge_method="S256")["code"][0]
    missing = token_request(
        server,
        oauth_auth(server),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
    )
    assert missing.status_code == 400
    plain = authorize(server, code_challenge=challenge, code_challenge_method="plain")
    assert plain["error"] == ["invalid_request"]


def test_authorize_rejects_unknown_client(server: SandboxServer) -> None:
    response = requests.get(
        server.oauth_url + "/oauth/authorize",
        params={"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 400


def test_refresh_tokens_rotate_and_the_old_one_is_rejected(server: SandboxServer) -> None:
    code = authorize(server)["code"][0]
    first = token_request(
        server,
        oauth_auth(server),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
    ).json()
    second = token_request(
        server, oauth_auth(server), grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert second.status_code == 200
    rotated = second.json()["refresh_token"]
    assert rotated != first["refresh_token"]
    reused = token_request(
        server, oauth_auth(server), grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert reused.status_code == 400
    assert reused.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    third = token_request(
        server, oauth_auth(server), grant_type="refresh_token", refresh_token=rotated
    )
    assert third.status_code == 200


def test_token_expiry_mid_run_gives_124_then_a_new_token_works(server: SandboxServer) -> None:
    server.state.set_token_ttl(0.3)
    try:
        body = token_request(
            server,
            s2s_auth(server),
            grant_type="account_credentials",
            account_id=server.config.account_id,
        ).json()
        assert body["expires_in"] == 0
        api = Api(server, body["access_token"])
        assert api.get("/users").status_code == 200
        time.sleep(0.35)
        expired = api.get("/users")
        assert expired.status_code == 401
        assert expired.json() == {"code": 124, "message": "Access token is expired."}
    finally:
        server.state.set_token_ttl(3600)
    fresh = token_request(
        server,
        s2s_auth(server),
        grant_type="account_credentials",
        account_id=server.config.account_id,
    ).json()
    assert fresh["expires_in"] == 3600
    api.token = fresh["access_token"]
    assert api.get("/users").status_code == 200
    server.state.expire_tokens()
    assert api.get("/users").json()["code"] == 124
    api.close()


def test_oauth_secrets_are_masked_in_the_request_log(server: SandboxServer) -> None:
    code = authorize(server)["code"][0]
    mark = len(server.state.request_log())
    token_request(
        server,
        oauth_auth(server),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
    )
    (record,) = server.state.request_log(mark)
    assert code not in record.query
    assert "code=%2A%2A%2A" in record.query
    assert record.body is None

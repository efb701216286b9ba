"""The sandbox is as strict as Zoom about scopes, page tokens and language."""

from __future__ import annotations

import json
import re
import time

import requests
from support.openapi import spec_dir
from support.sandbox import running

from zoomguard.sandbox import SandboxConfig
from zoomguard.sandbox.api import ROUTES
from zoomguard.sandbox.config import DEFAULT_SCOPES
from zoomguard.sandbox.scopes import OPERATION_SCOPES

ENDPOINT_DOCUMENTS = ("meetings-endpoints.json", "users-endpoints.json", "accounts-endpoints.json")
LIST_MEETINGS = "meeting:read:list_meetings:admin"


def _documented_operations() -> dict[tuple[str, str], dict[str, object]]:
    operations: dict[tuple[str, str], dict[str, object]] = {}
    for name in ENDPOINT_DOCUMENTS:
        document = json.loads((spec_dir() / name).read_text(encoding="utf-8"))
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if isinstance(operation, dict) and "x-extensions" in operation:
                    operations[(re.sub(r"\{[^}]+\}", "{}", path), method.upper())] = operation
    return operations


def test_the_scope_table_is_zoom_s_documents() -> None:
    documented = _documented_operations()
    routes = {(path, method) for path, methods in ROUTES for method in methods}
    assert set(OPERATION_SCOPES) == routes
    for (route, method), (granular, classic) in OPERATION_SCOPES.items():
        operation = documented[(re.sub(r"<[^>]+>", "{}", route), method)]
        extensions = operation["x-extensions"]
        assert isinstance(extensions, dict)
        expected = (
            tuple(extensions["x-granular-scopes"]),
            tuple(extensions["x-macro-scopes"]),
        )
        assert (granular, classic) == expected, f"({route!r}, {method!r}): {expected!r},"
        security = operation["security"]
        assert isinstance(security, list)
        assert set(security[0]["openapi_oauth"]) == {*granular, *classic}


def test_a_token_without_the_scope_is_refused_like_zoom() -> None:
    config = SandboxConfig(scopes=DEFAULT_SCOPES.replace(LIST_MEETINGS, "").strip())
    with running(config) as (server, api):
        host = server.state.add_user("host@example.org")
        token_scopes = set(config.scopes.split())
        assert LIST_MEETINGS not in token_scopes
        refused = api.get(f"/users/{host['id']}/meetings")
        assert refused.status_code == 400
        assert refused.json() == {
            "code": 4711,
            "message": "Invalid access token, does not contain scopes:"
            "[meeting:read:list_meetings, meeting:read:list_meetings:admin]",
        }
        assert api.get("/users").status_code == 200  # other operations still work
        server.config.enforce_scopes = False
        assert api.get(f"/users/{host['id']}/meetings").status_code == 200


def test_the_token_response_carries_the_granted_scopes() -> None:
    config = SandboxConfig(scopes="user:read:list_users:admin")
    with running(config) as (server, api):
        granted = requests.post(
            server.oauth_url + "/oauth/token",
            params={"grant_type": "account_credentials", "account_id": config.account_id},
            auth=(config.client_id, config.client_secret),
            timeout=10,
        ).json()["scope"]
        assert granted == "user:read:list_users:admin"
        assert api.get("/users").status_code == 200
        assert api.get("/users/me/settings").json()["code"] == 4711


def test_page_tokens_expire() -> None:
    with running(SandboxConfig(page_token_ttl_seconds=0.2)) as (server, api):
        for number in range(3):
            server.state.add_user(f"user{number}@example.org")
        first = api.get("/users", params={"page_size": 1}).json()
        assert first["next_page_token"]
        time.sleep(0.3)
        expired = api.get(
            "/users", params={"page_size": 1, "next_page_token": first["next_page_token"]}
        )
        assert expired.status_code == 400
        assert expired.json()["code"] == 300


def test_errors_in_french_keep_zoom_s_codes() -> None:
    with running(SandboxConfig(language="fr")) as (_server, api):
        missing = api.get("/meetings/123456789")
        assert missing.status_code == 404
        assert missing.json() == {"code": 3001, "message": "La réunion n'existe pas : 123456789."}
        odd = api.get("/users", params={"status": "bogus"}).json()
        assert odd == {"code": 300, "message": "Champ non valide : status."}

"""The sandbox's webinar endpoints and events, each checked against Zoom's OpenAPI documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.openapi import validate_request, validate_webhook, webhook_example
from support.sandbox import Api, WebhookReceiver, running

from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.webinars import (
    created_object,
    deleted_object,
    webinar_changes,
)

SECRET = "sandbox-webinar-secret"


@pytest.fixture
def wired() -> Iterator[tuple[SandboxServer, Api, WebhookReceiver]]:
    with WebhookReceiver(SECRET) as receiver:
        config = SandboxConfig(
            webhook_secret=SECRET,
            webhook_url=receiver.url,
            enforce_rate_limits=False,
            webhook_time_scale=0.0001,
        )
        with running(config) as (server, api):
            yield server, api, receiver


def test_list_read_patch_and_delete_a_webinar(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, api, receiver = wired
    host = server.state.add_user("host@example.org")
    webinar = server.state.add_webinar(
        host, topic="Town hall", password="", settings={"on_demand": True}
    )
    server.state.add_webinar(host, type=6, topic="Office hours")
    listed = api.get(f"/users/{host['id']}/webinars", params={"page_size": "1"})
    assert listed.status_code == 200
    first = listed.json()
    assert len(first["webinars"]) == 1
    assert "settings" not in first["webinars"][0]  # the list carries no settings
    second = api.get(
        f"/users/{host['id']}/webinars", params={"next_page_token": first["next_page_token"]}
    ).json()
    assert {w["topic"] for w in first["webinars"] + second["webinars"]} == {
        "Town hall",
        "Office hours",
    }

    read = api.get(f"/webinars/{webinar['id']}").json()
    assert read["password"] == ""
    assert read["settings"]["on_demand"] is True

    body = {"password": "Ab3!xY9-zQ", "settings": {"on_demand": False, "auto_recording": "none"}}
    validate_request("PATCH", f"/v2/webinars/{webinar['id']}", body=body)
    assert api.patch(f"/webinars/{webinar['id']}", body).status_code == 204
    read = api.get(f"/webinars/{webinar['id']}").json()
    assert read["password"] == "Ab3!xY9-zQ"
    assert read["settings"]["on_demand"] is False

    assert api.delete(f"/webinars/{webinar['id']}").status_code == 204
    gone = api.get(f"/webinars/{webinar['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, 3001)

    assert server.wait_for_webhooks(10)
    names = [e["event"] for e in receiver.events()]
    assert names == ["webinar.updated", "webinar.deleted"]
    for event in receiver.events():
        validate_webhook(event["event"], event)
    updated = receiver.events("webinar.updated")[0]["payload"]
    assert updated["old_object"]["password"] == ""
    assert updated["object"]["password"] == "Ab3!xY9-zQ"


def test_a_webinar_patch_is_validated_like_a_meeting_patch(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, api, _ = wired
    host = server.state.add_user("host@example.org")
    webinar = server.state.add_webinar(host)
    for bad in (
        {"password": "far-too-long-passcode"},
        {"password": "with space"},
        {"type": 2},  # a meeting type is not a webinar type
        {"settings": {"auto_recording": "sometimes"}},
        {"settings": {"on_demand": "yes"}},
    ):
        answer = api.patch(f"/webinars/{webinar['id']}", bad)
        assert (answer.status_code, answer.json()["code"]) == (400, 300), bad
    assert api.get(f"/webinars/{webinar['id']}").json() == webinar


def test_an_account_without_a_webinar_plan_answers_code_200() -> None:
    with running(SandboxConfig(enforce_rate_limits=False, webinar_plan=False)) as (server, api):
        host = server.state.add_user("host@example.org")
        webinar = server.state.add_webinar(host)
        for answer in (
            api.get(f"/users/{host['id']}/webinars"),
            api.get(f"/webinars/{webinar['id']}"),
            api.patch(f"/webinars/{webinar['id']}", {"settings": {"on_demand": False}}),
        ):
            assert answer.status_code == 400
            assert answer.json()["code"] == 200
        # The switch is a control knob like the others.
        server.state.config.webinar_plan = True
        assert api.get(f"/users/{host['id']}/webinars").status_code == 200


def test_webinar_webhook_objects_match_the_documented_examples() -> None:
    """The sandbox's objects carry the fields of Zoom's own examples, shaped as documented."""
    with running(SandboxConfig(enforce_rate_limits=False)) as (server, _):
        host = server.state.add_user("host@example.org")
        webinar = server.state.add_webinar(host, type=9, password="XYz@BC!D1")
    for event, obj in (
        ("webinar.created", created_object(webinar)),
        ("webinar.deleted", deleted_object(webinar)),
    ):
        example = webhook_example(event)
        assert set(obj) == set(example["payload"]["object"]) - {"operation"}, event
        example["payload"]["object"] = obj
        validate_webhook(event, example)
    changed = {**webinar, "settings": {**webinar["settings"], "auto_recording": "cloud"}}
    changes = webinar_changes(webinar, changed)
    assert changes is not None
    example = webhook_example("webinar.updated")
    example["payload"]["object"], example["payload"]["old_object"] = changes
    # Zoom's own example leaves out time_stamp, which its schema requires.
    example["payload"]["time_stamp"] = example["event_ts"]
    validate_webhook("webinar.updated", example)
    assert changes[0]["settings"] == {"auto_recording": "cloud"}


def test_webinar_created_is_sent_when_scripted(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, _, receiver = wired
    host = server.state.add_user("host@example.org")
    server.state.add_webinar(host, emit=True)
    assert server.wait_for_webhooks(10)
    [event] = receiver.events("webinar.created")
    validate_webhook("webinar.created", event)

"""The event registry (issue #13): every list of events derives from the handlers' declarations,
each Zoom event name is written once, and alert categories are values, not found in text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.openapi import spec_dir

from zoomguard.notify import categories
from zoomguard.service.alerts import alert_category
from zoomguard.service.events import (
    HANDLED_EVENTS,
    REGISTRY,
    URGENT_EVENTS,
    EventContext,
    EventRegistry,
    ZoomEvent,
)
from zoomguard.service.failures import FixFailure
from zoomguard.zoom import webhook_events

ROOT = Path(__file__).resolve().parents[2]


def _ignore(context: EventContext, event: ZoomEvent) -> None:
    pass


def test_a_family_registry_collects_its_declarations() -> None:
    family = EventRegistry()

    @family.on("a.one", "a.two", category="cat.a", urgent=True, scopes=("s:a",))
    def handle_a(context: EventContext, event: ZoomEvent) -> None:
        pass

    family.on("b.one", scopes=("s:a", "s:b"), needs_account=False)(_ignore)
    combined = EventRegistry(family)
    assert combined.handled_events == {"a.one", "a.two", "b.one"}
    assert combined.urgent_events == {"a.one", "a.two"}
    assert combined.subscriptions() == ["a.one", "a.two", "b.one"]
    assert combined.subscription_scopes() == ["s:a", "s:b"]
    listener = combined.listener_for("a.two")
    assert listener is not None
    assert (listener.handler, listener.category, listener.needs_account) == (
        handle_a,
        "cat.a",
        True,
    )
    assert combined.listener_for("c.one") is None


def test_two_handlers_for_one_event_are_refused() -> None:
    first, second = EventRegistry(), EventRegistry()
    first.on("a.one")(_ignore)
    second.on("a.one")(_ignore)
    with pytest.raises(ValueError, match=r"a\.one already has a handler"):
        EventRegistry(first, second)
    with pytest.raises(ValueError, match="at least one event"):
        first.on()


RECORD_EVENTS = {
    "meeting.ai_companion_started",
    "meeting.summary_completed",
    "meeting.live_streaming_started",
    "meeting.chat_message_file_sent",
    "recording.resumed",
    "recording.recovered",
    "recording.transcript_completed",
}


def test_the_handled_and_urgent_sets_are_the_ones_zoomguard_always_had() -> None:
    assert (
        RECORD_EVENTS
        | {
            "meeting.created",
            "meeting.updated",
            "meeting.deleted",
            "webinar.created",
            "webinar.updated",
            "webinar.deleted",
            "recording.started",
            "recording.completed",
            "meeting.participant_jbh_joined",
            "meeting.participant_jbh_waiting",
            "app_deauthorized",
            "account.settings_updated",
            "account.lock_settings_updated",
            "group.settings_updated",
            "group.lock_settings_updated",
            "user.settings_updated",
        }
        == HANDLED_EVENTS
    )
    # Every record of a meeting is urgent: it is being kept, or was just kept, right now.
    # app_deauthorized too since issue #14: the officer hears at once that nothing is enforced.
    assert (
        RECORD_EVENTS | {"recording.started", "recording.completed", "app_deauthorized"}
        == URGENT_EVENTS
    )
    recording = REGISTRY.listener_for("recording.started")
    assert recording is not None
    assert recording.category == categories.RECORDING_STARTED


def _readme_zoom_app_setup() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Zoom app setup")
    return text[start : text.index("\n## ", start + 1)]


def test_readme_subscriptions_are_the_registry_s_events() -> None:
    section = _readme_zoom_app_setup()
    paragraph = section[section.index("subscribe to:") :].split("\n\n")[0]
    # app_deauthorized is no subscription: Zoom sends it to the deauthorization endpoint.
    subscribed = set(REGISTRY.subscriptions()) - {"app_deauthorized"}
    assert set(re.findall(r"`([a-z_.]+)`", paragraph)) == subscribed
    deauthorization = section[section.index("`app_deauthorized` is not") :].split("\n\n")[0]
    assert "deauthorization" in deauthorization
    assert "/webhooks/zoom" in deauthorization


def test_readme_webhook_scopes_are_the_registry_s_scopes() -> None:
    section = _readme_zoom_app_setup()
    item = section[section.index("- for webhooks:") :]
    lines = item.splitlines()
    # The list item and its continuation lines (indented two spaces).
    text = "\n".join([lines[0], *(ln for ln in lines[1:] if ln.startswith("  "))])
    assert re.findall(r"`([a-z_:]+)`", text) == REGISTRY.subscription_scopes()


def test_declared_scopes_are_the_ones_zoom_documents_for_the_event() -> None:
    documented = json.loads((spec_dir() / "meetings-webhooks.json").read_text(encoding="utf-8"))
    checked = 0
    for listener in REGISTRY.listeners():
        for event in listener.events:
            operation = documented["webhooks"].get(event)
            if operation is None:
                continue  # not in the meetings document (account settings, app events)
            text = operation["post"]["requestBody"]["description"]
            granular = text[text.index("Granular Scopes") :].split("\n\n")[0]
            for scope in listener.scopes:
                assert f"`{scope}`" in granular, (event, scope)
            assert listener.scopes, f"{event} declares no scope"
            checked += 1
    assert checked >= 7  # meeting.* and recording.*


def test_each_zoom_event_name_is_written_in_one_product_module() -> None:
    names = set(REGISTRY.subscriptions())
    found: dict[str, set[str]] = {name: set() for name in names}
    sources = [*ROOT.joinpath("zoomguard").rglob("*.py"), *ROOT.joinpath("webhooks").rglob("*.py")]
    for path in sources:
        relative = path.relative_to(ROOT).as_posix()
        # The sandbox plays Zoom and keeps its own names; the symlinks repeat webhooks/.
        if relative.startswith(("zoomguard/sandbox/", "zoomguard/webhooks/")):
            continue
        text = path.read_text(encoding="utf-8")
        for name in names:
            if f'"{name}"' in text:
                found[name].add(relative)
    assert found == {name: {"zoomguard/zoom/webhook_events.py"} for name in names}
    assert webhook_events.RECORDING_STARTED == categories.RECORDING_STARTED


def test_the_update_cap_category_is_chosen_by_value_not_by_wording() -> None:
    assert alert_category("failed", FixFailure.UPDATE_CAP, "waiting_room") == "meeting.update_cap"
    for other in (FixFailure.REFUSED, FixFailure.OVERRIDDEN, FixFailure.RATE_LIMITED, None):
        assert alert_category("failed", other, "waiting_room") == "meeting.fix_failed"
    assert alert_category("fixed", None, "waiting_room") == "meeting.fixed"

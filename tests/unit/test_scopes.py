"""The table of scopes by feature (zoomguard/zoom/scopes.py): true to Zoom's documents, the one
source of the README's list and of the event handlers' declarations, and what connect checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

from support.openapi import spec_dir

from zoomguard.service.events.dispatcher import REGISTRY
from zoomguard.zoom import scopes

README = Path(__file__).resolve().parents[2] / "README.md"
ENDPOINT_DOCUMENTS = ("meetings-endpoints.json", "users-endpoints.json", "accounts-endpoints.json")


def _granular_scopes_by_operation() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in ENDPOINT_DOCUMENTS:
        document = json.loads((spec_dir() / name).read_text(encoding="utf-8"))
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if isinstance(operation, dict) and "x-extensions" in operation:
                    granular = operation["x-extensions"].get("x-granular-scopes", [])
                    found[f"{method.upper()} {path}"] = list(granular)
    return found


def test_every_api_scope_is_one_zoom_documents_for_its_operation() -> None:
    documented = _granular_scopes_by_operation()
    checked = 0
    for feature, needs in scopes.FEATURE_SCOPES.items():
        for need in needs:
            if need.used_for.startswith("event "):
                continue
            assert need.used_for in documented, (feature, need.used_for)
            assert need.scope in documented[need.used_for], (feature, need)
            assert need.scope.endswith((":admin", ":master")), need.scope  # account-level app
            checked += 1
    assert checked >= 20


def test_the_webhook_scopes_are_the_ones_the_handlers_declare() -> None:
    assert scopes.feature_scopes(scopes.WEBHOOKS) == REGISTRY.subscription_scopes()


def test_the_readme_lists_the_table() -> None:
    text = README.read_text(encoding="utf-8")
    listed = re.search(r"<!-- scopes:begin -->\n(.*?)\n<!-- scopes:end -->", text, re.DOTALL)
    assert listed is not None
    assert listed.group(1) == scopes.readme_scope_list(), (
        "regenerate: python -c 'from zoomguard.zoom.scopes import readme_scope_list; "
        "print(readme_scope_list())'"
    )
    assert "`account:read:admin`" not in listed.group(1)  # no classic fallback


def test_missing_scopes_name_each_scope_and_its_features() -> None:
    granted = set(scopes.feature_scopes(scopes.SWEEP)) - {scopes.LIST_MEETINGS, scopes.READ_MEETING}
    missing = scopes.missing_scopes(granted, [scopes.SWEEP, scopes.WEBHOOKS])
    assert missing[scopes.LIST_MEETINGS] == [scopes.SWEEP]
    assert missing[scopes.READ_MEETING] == [scopes.SWEEP, scopes.WEBHOOKS]
    line = scopes.describe_missing(missing)
    assert f"{scopes.LIST_MEETINGS} (for sweep)" in line
    assert f"{scopes.READ_MEETING} (for sweep and webhooks)" in line
    everything = {s for feature in scopes.FEATURE_SCOPES for s in scopes.feature_scopes(feature)}
    assert scopes.missing_scopes(everything, scopes.FEATURE_SCOPES) == {}


def test_the_sandbox_s_default_app_has_every_scope_zoomguard_needs() -> None:
    from zoomguard.sandbox.config import DEFAULT_SCOPES

    assert scopes.missing_scopes(DEFAULT_SCOPES.split(), scopes.FEATURE_SCOPES) == {}

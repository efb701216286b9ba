"""The service package's names load on first use (PEP 562) and are the real objects."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import zoomguard.service as service


@pytest.mark.parametrize("name", service.__all__)
def test_every_exported_name_is_the_object_of_its_home_module(name: str) -> None:
    home = importlib.import_module(service._HOMES[name])
    assert getattr(service, name) is getattr(home, name)


def test_a_name_the_package_does_not_export_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = service.Nothing  # type: ignore[attr-defined]


def test_the_light_modules_do_not_import_the_rules_or_the_enforcer() -> None:
    # What lets `zoomguard sweep` start its token's round trip before these are imported.
    code = (
        "import sys\n"
        "from zoomguard.service import clients, connect\n"
        "heavy = [m for m in ('zoomguard.rules.policy', 'zoomguard.service.enforce', "
        "'zoomguard.service.sweep', 'zoomguard.notify.outbox') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

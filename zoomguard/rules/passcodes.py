"""Meeting passcodes zoomguard sets: for a meeting without one, and for a PMI room."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any, Final

PASSCODE_ALPHABET: Final = string.ascii_letters + string.digits + "@-_*"
PASSCODE_LENGTH: Final = 10  # Zoom's maximum
_PASSCODE_SHAPE = re.compile(r"[A-Za-z0-9@\-_*]{1,10}")


def generate_passcode() -> str:
    """A random 10-character passcode Zoom accepts.

    Beyond the letter and digit the brief requires, it also holds an upper- and a lower-case
    letter and a special character, and no run of four equal or consecutive characters, so it
    passes the stricter passcode requirements an account admin may have switched on.
    Rejection sampling keeps the choice uniform among acceptable passcodes (~3 draws on average).
    """
    while True:
        candidate = "".join(secrets.choice(PASSCODE_ALPHABET) for _ in range(PASSCODE_LENGTH))
        if _strong_passcode(candidate):
            return candidate


def acceptable_passcode(value: Any) -> bool:
    """Whether Zoom would take ``value`` as a passcode (guards an injected generator)."""
    return isinstance(value, str) and _PASSCODE_SHAPE.fullmatch(value) is not None


def _strong_passcode(candidate: str) -> bool:
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "@-_*")
    if not all(any(c in chars for c in candidate) for chars in classes):
        return False
    for i in range(len(candidate) - 3):
        steps = {
            ord(b) - ord(a)
            for a, b in zip(candidate[i : i + 3], candidate[i + 1 : i + 4], strict=True)
        }
        if steps in ({0}, {1}, {-1}):
            return False
    return True

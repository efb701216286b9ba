"""Every sentence of the CLBC guidance that zoomguard quotes, written once.

Quoted verbatim from the guidance documents (``interim-guidance-video-conferencing.md``), with
the markdown emphasis dropped; the curly quotes and the en dash are the guidance's own
characters. Rules, baseline items, findings and emails all refer to these constants, so a
sentence is never typed twice (and a test checks each one against the documents).
"""

from __future__ import annotations

from typing import Final

PASSCODE_TO_ACCESS: Final = "Participants use a password to access a meeting."
PASSCODE_SENT_SEPARATELY: Final = "The password is sent separately from the meeting link."
PARTICIPANTS_IDENTIFIED: Final = (
    "Each participant is identified, and the \u201cmeeting\u201d is locked to prevent "
    "unauthorized parties joining."
)
NO_ONE_BEFORE_HOST: Final = "No one joins the meeting before the host."
NOT_RECORDED: Final = (
    "Video calls or conference calls are not recorded \u2013 CLBC staff confirm the host has "
    "turned off this option."
)
NO_IDENTIFYING_INFORMATION: Final = (
    "Identifying information of individuals is not included in discussion e.g. SIN, birth date, "
    "address, first and last name used together (using first names alone is fine)."
)
NO_FILES_TRANSFERRED: Final = "No files or documents are transferred using the video link."
STORED_OUTSIDE_CANADA: Final = (
    "All participants on the video meeting are informed that their information may be stored "
    "outside of Canada."
)
TAKE_PRECAUTIONS: Final = (
    "Before using any non-government video conferencing platform, CLBC Staff and service "
    "providers must take precautions to protect personal information."
)

ALL_QUOTES: Final[tuple[str, ...]] = (
    PASSCODE_TO_ACCESS,
    PASSCODE_SENT_SEPARATELY,
    PARTICIPANTS_IDENTIFIED,
    NO_ONE_BEFORE_HOST,
    NOT_RECORDED,
    NO_IDENTIFYING_INFORMATION,
    NO_FILES_TRANSFERRED,
    STORED_OUTSIDE_CANADA,
    TAKE_PRECAUTIONS,
)


def cite(quote: str) -> str:
    """How a finding's reason quotes the guidance (emails recognise and do not repeat it)."""
    return f"The guidance says: \u201c{quote}\u201d"

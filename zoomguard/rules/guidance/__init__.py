"""The agency guidance every rule quotes, shipped inside the package (provenance: SOURCES.md).

The rules quote sentences of these documents word for word; reading them through
importlib.resources lets an installed zoomguard (and its tests) check a quote against the source
without anything beside the checkout. Standard library only, like the rest of zoomguard.rules.
"""

from __future__ import annotations

import re
from importlib import resources

# The agency's own documents; README.md and SOURCES.md in this folder are our notes about them.
DOCUMENTS = (
    "interim-guidance-video-conferencing.md",
    "letter-to-service-providers-2020-03-30.md",
)


def read_document(name: str) -> str:
    """The text of one guidance document, as published (markdown)."""
    if name not in DOCUMENTS:
        raise KeyError(f"not a guidance document: {name}")
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def plain_text() -> str:
    """Every guidance document as one line of words: markdown emphasis dropped, spaces collapsed.

    This is the form the rules quote from, so ``quote in plain_text()`` checks a quote.
    """
    documents = " ".join(read_document(name) for name in DOCUMENTS)
    return re.sub(r"\s+", " ", documents.replace("**", ""))

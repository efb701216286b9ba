"""Access logs without query strings.

A query string can carry secrets: Zoom's redirect to ``/connect/oauth/callback`` brings the OAuth
``code`` and ``state``. Access-log lines therefore keep the path and drop the query, for the
whole app and every server that runs it:

- gunicorn, if you serve the app with it (the Procfile's waitress writes no access log):
  ``--logger-class zoomguard.webhooks.access_log.ScrubbingLogger``;
- werkzeug (``zoomguard run``): ``make_server(..., request_handler=ScrubbingRequestHandler)``.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]  # gunicorn ships no types
from werkzeug.serving import WSGIRequestHandler

QUERY_REMOVED = "?…"
# gunicorn atoms that may hold a URL with its query (the referer can be the callback's URL).
_URL_ATOMS = ("f", "{referer}i", "{raw_uri}e", "{request_uri}e")
_QUERY_ATOMS = ("q", "{query_string}e")


def without_query(target: str) -> str:
    """``/path?code=...`` → ``/path?…``: whoever reads the log sees that a query was there."""
    path, separator, _ = target.partition("?")
    return path + QUERY_REMOVED if separator else path


class ScrubbingLogger(Logger):  # type: ignore[misc]  # Logger is untyped (Any)
    """gunicorn's logger, with the query string dropped from every access-log atom."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        atoms["r"] = " ".join(
            (
                str(environ.get("REQUEST_METHOD", "-")),
                without_query(str(environ.get("RAW_URI", environ.get("PATH_INFO", "")))),
                str(environ.get("SERVER_PROTOCOL", "-")),
            )
        )
        for key in _QUERY_ATOMS:
            if key in atoms:
                atoms[key] = ""
        for key in _URL_ATOMS:
            value = atoms.get(key)
            if isinstance(value, str):
                atoms[key] = without_query(value)
        return atoms


class ScrubbingRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, logging the path without its query string."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Called once the response is under way: the app has read the query already.
        if hasattr(self, "path"):
            self.path = without_query(self.path)
        super().log_request(code, size)

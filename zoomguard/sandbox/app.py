"""The sandbox's WSGI application: routing, bearer tokens, rate limits, latency, injected faults
and the request log around the handlers in api.py, oauth.py and control.py.

Plain werkzeug rather than Flask: the per-request overhead stays small, and the raw request
target is at hand, which Zoom's double-encoding rule for meeting UUIDs needs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from zoomguard.sandbox import api, french
from zoomguard.sandbox.api import Call, Reply, error
from zoomguard.sandbox.control import handle_control
from zoomguard.sandbox.oauth import AccessToken, OAuthEndpoints
from zoomguard.sandbox.ratelimit import RateLimiter
from zoomguard.sandbox.scopes import MISSING_SCOPE_CODE, missing_scopes, missing_scopes_message
from zoomguard.sandbox.scripting import Fault
from zoomguard.sandbox.state import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from zoomguard.sandbox.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

JSON_TYPE = "application/json;charset=UTF-8"
PER_SECOND_MESSAGE = (
    "You have reached the maximum per-second rate limit for this API. Try again later."
)
# OAuth parameters that are secrets: masked in the request log.
SECRET_PARAMS = frozenset({"code", "refresh_token", "code_verifier", "client_secret"})


class DropConnection(ConnectionAbortedError):
    """Raised after the socket is shut down; werkzeug treats it as a dropped connection."""


def to_response(reply: Reply) -> Response:
    if reply.body is None:
        response = Response(status=reply.status)
        response.headers.remove("Content-Type")
    else:
        response = Response(json.dumps(reply.body), status=reply.status, content_type=JSON_TYPE)
    for name, value in reply.headers.items():
        response.headers[name] = value
    return response


def _in_french(reply: Reply) -> None:
    """Zoom's error message in French, as a French-language account gets it."""
    if isinstance(reply.body, dict) and isinstance(reply.body.get("message"), str):
        reply.body = {
            **reply.body,
            "message": french.translate(reply.body["message"], reply.body.get("code")),
        }


def mask_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "***" if k in SECRET_PARAMS else v) for k, v in pairs])


class SandboxApp:
    """WSGI callable. ``state.config`` is read on every request, so changes apply at once."""

    def __init__(self, state: SandboxState, base_url: Callable[[], str]) -> None:
        self.state = state
        self.base_url = base_url
        self.webhooks: WebhookDispatcher | None = None
        self.limiter = RateLimiter(lambda category: self.state.config.rate(category))
        self.oauth = OAuthEndpoints(
            state.config, state.tokens, self._authorizing_user, api_url=base_url
        )
        self._handlers: dict[tuple[str, str], tuple[api.Handler, str]] = {}
        rules = []
        for path, methods in api.ROUTES:
            rules.append(Rule("/v2" + path, endpoint=path, methods=list(methods)))
            for method, target in methods.items():
                self._handlers[(path, method)] = target
        self.url_map = Map(rules, merge_slashes=False, strict_slashes=False)
        self._fault_rng = random.Random(f"faults:{state.config.seed}")
        self._jitter_rng = random.Random(f"jitter:{state.config.seed}")
        self._fault_lock = threading.Lock()

    def _authorizing_user(self, ref: str | None) -> str | None:
        user = self.state.find_user(ref) if ref else self.state.find_user("me")
        return str(user["id"]) if user is not None else None

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        if path.startswith("/v2/"):
            response = self._api(request)
        elif path.startswith("/oauth/"):
            response = self._oauth(request)
        elif path.startswith("/_sandbox/"):
            response = handle_control(self, request)
        else:
            response = to_response(error(404, 2300, "This API endpoint is not recognized."))
        return response(environ, start_response)

    # -- shared steps ------------------------------------------------------------------------

    def _sleep_latency(self) -> float:
        """Spend the request's modelled network delay; return when (``time.monotonic``) the
        network delivered it: its arrival at Zoom, where the per-second limits count it."""
        read_at = time.monotonic()
        config = self.state.config
        delay_ms = config.latency_ms
        if config.latency_jitter_ms > 0:
            with self._fault_lock:
                delay_ms += self._jitter_rng.uniform(0.0, config.latency_jitter_ms)
        if delay_ms > 0:
            time.sleep(delay_ms / 1000.0)
        return read_at + delay_ms / 1000.0

    def _drop(self, request: Request) -> None:
        sock = request.environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise DropConnection("sandbox dropped the connection")

    @staticmethod
    def _raw_path(request: Request) -> str:
        raw = request.environ.get("REQUEST_URI") or request.path
        return str(raw).split("?", 1)[0]

    @staticmethod
    def _fault_reply(fault: Fault) -> Reply:
        reply = error(fault.status, fault.code, fault.message)
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = fault.retry_after
        return reply

    def _roll(self) -> str | None:
        config = self.state.config
        if config.drop_rate <= 0 and config.error_rate <= 0:
            return None
        with self._fault_lock:
            roll = self._fault_rng.random()
        if roll < config.drop_rate:
            return "drop"
        if roll < config.drop_rate + config.error_rate:
            return "error"
        return None

    # -- /v2 ---------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> AccessToken | Reply:
        if "access_token" in request.args:
            return error(
                401,
                124,
                "Invalid access token, this access token is not supported as query parameter "
                "string.",
            )
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return error(401, 124, "Invalid access token.")
        token = token.strip()
        if not token:
            return error(401, 4700, "Token cannot be empty.")
        info = self.state.tokens.lookup(token)
        if info is None:
            return error(401, 124, "Invalid access token.")
        if self.state.tokens.is_expired(info):
            return error(401, 124, "Access token is expired.")
        return info

    def _rate_limited(self, category: str, arrived: float) -> Reply | None:
        config = self.state.config
        if not config.enforce_rate_limits:
            return None
        wait = self.limiter.acquire(category, at=arrived)
        if wait <= 0:
            return None
        reply = error(429, 4001, PER_SECOND_MESSAGE)
        reply.headers.update(
            {
                "Retry-After": str(max(1, math.ceil(wait))),
                "X-RateLimit-Category": category.capitalize(),
                "X-RateLimit-Type": "QPS",
                "X-RateLimit-Limit": str(int(config.rate(category))),
                "X-RateLimit-Remaining": "0",
            }
        )
        return reply

    def _route(
        self, request: Request
    ) -> tuple[api.Handler | None, str | None, dict[str, str], Reply | None, str | None]:
        """(handler, rate-limit category, path parameters, or the error reply, the route)."""
        # Route on the path as sent, still percent-encoded: a UUID with one "/" in it arrives
        # as "%2F" and must stay one path segment, as it does at Zoom.
        try:
            endpoint, matched = self.url_map.bind_to_environ(request.environ).match(
                path_info=self._raw_path(request), method=request.method
            )
        except NotFound:
            return None, None, {}, self._not_found(request.path), None
        except MethodNotAllowed:
            reply = error(405, 300, f"Method {request.method} is not allowed.")
            return None, None, {}, reply, None
        params = {name: unquote(str(value)) for name, value in matched.items()}
        if "meeting_id" in params:
            # Zoom's front end decodes the path once and then the meetingId once more, which is
            # why UUIDs that start with "/" or contain "//" must be double-encoded: sent
            # single-encoded, they break the path apart there, so they are not found here either.
            once = params["meeting_id"]
            if once.startswith("/") or "//" in once:
                return None, None, {}, self._not_found(request.path), None
            params["meeting_id"] = unquote(once)
        handler, category = self._handlers[(str(endpoint), request.method)]
        return handler, category, params, None, str(endpoint)

    def _scope_refused(self, route: str | None, method: str, token: AccessToken) -> Reply | None:
        """Zoom's answer to a token without any scope the operation lists (HTTP 400, 4711)."""
        if route is None or not self.state.config.enforce_scopes:
            return None
        missing = missing_scopes(route, method, token.scope)
        if not missing:
            return None
        return error(400, MISSING_SCOPE_CODE, missing_scopes_message(missing))

    @staticmethod
    def _json_body(request: Request) -> tuple[Any, Reply | None]:
        if request.method not in ("POST", "PATCH", "PUT", "DELETE"):
            return None, None
        raw = request.get_data()
        if not raw:
            return None, None
        try:
            return json.loads(raw), None
        except ValueError:
            return None, error(400, 300, "Request Body should be a valid JSON object.")

    def _api(self, request: Request) -> Response:
        """Latency first (the request travels to Zoom), then route, authenticate, apply
        scripted faults, rate limits and random failures (in that order, as a request meets
        them at Zoom), then run the handler; log it all."""
        received = time.time()
        # Zoom counts a request in its per-second window when it arrives, after the network
        # delay and its jitter: requests sent evenly can arrive bunched together.
        arrived = self._sleep_latency()
        handler, category, params, reply, route = self._route(request)
        body, bad_body = self._json_body(request)
        token: AccessToken | None = None
        if reply is None:
            auth = self._authenticate(request)
            if isinstance(auth, Reply):
                reply = auth
            else:
                token = auth
                reply = self._scope_refused(route, request.method, token)
        if reply is None:
            fault = self.state.take_fault(request.method, request.path, params)
            if fault is not None and fault.status == 0:
                self._log(request, received, 0, category, params, body)
                self._drop(request)
            if fault is not None:
                reply = self._fault_reply(fault)
        if reply is None and category is not None:
            reply = self._rate_limited(category, arrived)
        if reply is None:
            reply = bad_body
        outcome = self._roll() if reply is None else None
        if outcome == "drop":
            self._log(request, received, 0, category, params, body)
            self._drop(request)
        if outcome == "error":
            reply = error(500, 500, "Internal Server Error.")
        if reply is None and handler is not None and token is not None:
            call = Call(self.state, self.state.config, token, request.args, body, received)
            try:
                reply = handler(call, **params)
            except Exception:
                log.exception("sandbox handler failed: %s %s", request.method, request.path)
                reply = error(500, 500, "Internal Server Error.")
        assert reply is not None
        self._log(request, received, reply.status, category, params, body)
        if self.state.config.language == "fr":
            _in_french(reply)
        return to_response(reply)

    @staticmethod
    def _not_found(path: str) -> Reply:
        if path.startswith(("/v2/meetings/", "/v2/live_meetings/")):
            if "/recordings" in path:
                return error(404, 3301, "There is no recording for this meeting.")
            return error(404, 3001, "Meeting does not exist.")
        return error(404, 2300, "This API endpoint is not recognized.")

    def _log(
        self,
        request: Request,
        received: float,
        status: int,
        category: str | None,
        params: dict[str, str],
        body: Any,
        *,
        query: str | None = None,
    ) -> None:
        self.state.log_request(
            method=request.method,
            path=self._raw_path(request),
            query=query if query is not None else request.query_string.decode("latin-1"),
            body=body,
            status=status,
            category=category,
            received_at=received,
            responded_at=time.time(),
            meeting_id=params.get("meeting_id"),
            user_id=params.get("user_id"),
        )

    # -- /oauth ------------------------------------------------------------------------------

    def _oauth(self, request: Request) -> Response:
        received = time.time()
        path = request.path
        fault = self.state.take_fault(request.method, path, {})
        if fault is not None and fault.status == 0:
            self._drop(request)
        self._sleep_latency()
        location: str | None = None
        if fault is not None:
            status, body = fault.status, {"reason": fault.message, "error": "server_error"}
        elif path == "/oauth/token" and request.method == "POST":
            params = {**request.args.to_dict(), **request.form.to_dict()}
            status, body = self.oauth.token(params, request.headers.get("Authorization"))
        elif path == "/oauth/authorize" and request.method == "GET":
            status, maybe_body, location = self.oauth.authorize(request.args.to_dict())
            body = maybe_body or {}
        else:
            status, body = 404, {"reason": "Not Found", "error": "invalid_request"}
        query = mask_query(request.query_string.decode("latin-1"))
        self._log(request, received, status, None, {}, None, query=query)
        if location is not None:
            response = Response(status=status)
            response.headers["Location"] = location
            return response
        response = Response(json.dumps(body), status=status, content_type=JSON_TYPE)
        response.headers["Cache-Control"] = "no-store"
        return response

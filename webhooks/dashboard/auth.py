"""Signing in to the dashboard: sessions, roles, CSRF tokens and the login/logout pages.

- Flask's ``SECRET_KEY`` is derived from ZOOMGUARD_SECRET_KEY with HKDF and an info string of
  its own, so the session-signing key is never the key that encrypts Zoom credentials.
- Session cookies are HttpOnly, SameSite=Lax and Secure. Lax, not Strict: Zoom's redirect back
  after "Connect" is a cross-site navigation, and the session must come along with it for the
  connect to be bound to this browser. ``Secure`` can be dropped only when the app was built with
  ``insecure_loopback_cookies`` *and* the request is plain http to a loopback address (tests and
  the local demo); anything else still gets Secure cookies.
- Every POST of the dashboard carries the session's synchronizer token (``csrf_token``),
  compared in constant time. The webhook endpoint is a different blueprint and is not touched.
- Sign-ins are checked by ``store.users.authenticate`` (slow hashes) under the bounds
  of ``signin_guard``: one hash at a time, attempt limits per address and overall (429 with
  Retry-After beyond them), and a lockout per (username, client address). Every refused sign-in
  gets the same answer, whether the name is unknown, locked or the password wrong.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import (
    Blueprint,
    Flask,
    Request,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from zoomguard.service import utcnow
from zoomguard.store.users import UserRecord
from zoomguard.webhooks.context import app_context
from zoomguard.webhooks.dashboard.signin_guard import HASH_BUSY_RETRY_AFTER_SECONDS, SignInGuard

log = logging.getLogger("zoomguard.dashboard")

SESSION_COOKIE_NAME = "zoomguard_session"
SESSION_LIFETIME = timedelta(hours=8)
CSRF_FIELD = "csrf_token"
CSRF_FAILURE = "The form expired or did not come from this site. Reload the page and try again."
_HKDF_INFO = b"zoomguard dashboard session signing v1"
INSECURE_LOOPBACK_COOKIES = "ZOOMGUARD_INSECURE_LOOPBACK_COOKIES"
SIGNIN_GUARD_KEY = "zoomguard_signin_guard"
# One answer for every refused sign-in: it must not tell an unknown name from a locked one.
SIGNIN_REFUSED = (
    "The username or password is not right. After five failed attempts a username is locked "
    "for 15 minutes from this address."
)
SIGNIN_BUSY = "Too many sign-in attempts just now. Wait a moment and try again."

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)


# --- keys and cookies ----------------------------------------------------------------------------


def session_signing_key(secret_key: str) -> bytes:
    """The Flask SECRET_KEY: HKDF-SHA256 of the first ZOOMGUARD_SECRET_KEY (the encrypting one)."""
    first = next((part.strip() for part in secret_key.split(",") if part.strip()), "")
    if not first:
        raise ValueError("empty secret key")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return hkdf.derive(first.encode("utf-8"))


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# Paths no browser session has any business on: Zoom's deliveries and the probes. Opening the
# signed cookie there was a tenth of the receiver's CPU per webhook.
SESSIONLESS_PATHS = ("/webhooks/", "/healthz", "/metrics")


class DashboardSessionInterface(SecureCookieSessionInterface):
    """Secure cookies, except plain http on loopback when the app allows it (tests, demo); no
    session at all on ``SESSIONLESS_PATHS``."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS_PATHS):
            return None  # Flask uses a null session: nothing read, nothing written
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        relaxed = (
            bool(app.config.get(INSECURE_LOOPBACK_COOKIES))
            and has_request_context()
            and request.scheme == "http"
            and _is_loopback(request.host)
        )
        return not relaxed


def configure_sessions(app: Flask, secret_key: str, *, insecure_loopback_cookies: bool) -> None:
    app.secret_key = session_signing_key(secret_key)
    app.session_interface = DashboardSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=True,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.config[INSECURE_LOOPBACK_COOKIES] = insecure_loopback_cookies
    # Sign-in limits live with the app: one web process, one set of counts (signin_guard).
    app.extensions[SIGNIN_GUARD_KEY] = SignInGuard()


def signin_guard() -> SignInGuard:
    guard = current_app.extensions[SIGNIN_GUARD_KEY]
    assert isinstance(guard, SignInGuard)
    return guard


# --- CSRF ----------------------------------------------------------------------------------------


def csrf_token() -> str:
    """This session's synchronizer token (made on first use), for every form."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf() -> None:
    """400 unless a POST carries this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get(CSRF_FIELD)
    presented = request.form.get(CSRF_FIELD, "")
    if (
        not isinstance(expected, str)
        or not expected
        or not hmac.compare_digest(expected.encode(), presented.encode("utf-8", "replace"))
    ):
        log.warning("dashboard: %s %s refused: no valid CSRF token", request.method, request.path)
        abort(400, description=CSRF_FAILURE)


# --- who is signed in ----------------------------------------------------------------------------


def current_user() -> UserRecord | None:
    user = g.get("user")
    return user if isinstance(user, UserRecord) else None


def load_user() -> UserRecord | None:
    """The signed-in user, re-read from the database on every request.

    A deleted user, or one whose password changed since they signed in, is signed out.
    """
    user_id = session.get("uid")
    if not isinstance(user_id, int):
        return None
    user = app_context().store.users.get(user_id)
    if user is None or session.get("fp") != user.session_fingerprint:
        session.clear()
        return None
    return user


# --- page headers and error pages ----------------------------------------------------------------


def content_security_policy(oauth_url: str) -> str:
    """No script at all; styles and images from this site; forms may post here, and "Connect"
    may redirect to Zoom's authorization page (Chrome checks form-action on redirects too)."""
    parts = urlsplit(oauth_url)
    oauth_origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        f"form-action 'self' {oauth_origin}".rstrip()
        + "; frame-ancestors 'none'; base-uri 'none'"
    )


def _page_headers(response: WerkzeugResponse) -> WerkzeugResponse:
    csp = content_security_policy(app_context().settings.zoom_oauth_url)
    response.headers["Content-Security-Policy"] = csp
    return response


def _error_page(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    titles = {
        400: "The request could not be used",
        401: "Please sign in",
        403: "Your role does not allow this",
        404: "Not found",
    }
    return (
        render_template(
            "error.html",
            status=status,
            title=titles.get(status, exc.name or "Error"),
            description=exc.description if status in (400, 403) else None,
        ),
        status,
    )


def decorate_blueprint(blueprint: Blueprint) -> None:
    """HTML error pages and the dashboard's Content-Security-Policy on every response."""
    blueprint.after_request(_page_headers)
    blueprint.register_error_handler(HTTPException, _error_page)


def guard_blueprint(blueprint: Blueprint) -> None:
    """Every view of ``blueprint`` needs a signed-in user, and every POST a CSRF token."""
    decorate_blueprint(blueprint)

    @blueprint.before_request
    def _require_sign_in() -> WerkzeugResponse | None:
        g.user = load_user()
        if g.user is None:
            if request.method == "GET":
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        check_csrf()
        return None


def require_role(role: str) -> Callable[[F], F]:
    """403 for anyone signed in without ``role`` (admins pass every role check)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                abort(401)
            if user.role != role and not user.is_admin:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute URL or a scheme-relative ``//host``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("dashboard.index")
    return target


# --- pages ---------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | WerkzeugResponse | tuple[str, int]:
    if request.method == "GET":
        if load_user() is not None:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("login.html", next=request.args.get("next", ""))
    guard = signin_guard()
    address = request.remote_addr or "unknown"
    with guard.hash_slot() as holding:
        # The slot first: a sign-in turned away because another is being hashed costs next to
        # nothing and does not use up anyone's attempts.
        if not holding:
            log.warning("dashboard sign-in refused: another sign-in is being checked")
            return _signin_busy(HASH_BUSY_RETRY_AFTER_SECONDS)
        retry_after = guard.admit(address)
        if retry_after is not None:
            log.warning("dashboard sign-in refused: attempt limit reached")
            return _signin_busy(retry_after)
        check_csrf()
        username = request.form.get("username", "")[:150]
        password = request.form.get("password", "")
        lockout_name = username.strip().lower()
        # Hashed even when the name is locked here, so that a locked name answers in the time
        # an unknown one does.
        result = app_context().store.users.authenticate(username, password, now=utcnow())
    if result.user is None or guard.is_locked(lockout_name, address):
        if result.user is None:
            guard.record_failure(lockout_name, address)
        log.info("dashboard sign-in failed")
        page = render_template(
            "login.html", error=SIGNIN_REFUSED, next=request.form.get("next", "")
        )
        return page, 401
    guard.record_success(lockout_name, address)
    # A fresh session: whatever an attacker may have planted before sign-in does not survive.
    session.clear()
    session.permanent = True
    session["uid"] = result.user.id
    session["fp"] = result.user.session_fingerprint
    csrf_token()
    log.info("dashboard sign-in: user %d (%s)", result.user.id, result.user.role)
    return redirect(_safe_next(request.form.get("next")))


def _signin_busy(retry_after: int) -> WerkzeugResponse:
    page = render_template("login.html", error=SIGNIN_BUSY, next=request.form.get("next", ""))
    response = current_app.make_response((page, 429))
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    check_csrf()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))


decorate_blueprint(bp)

"""The "Connect Zoom account" page: Zoom's OAuth authorization-code flow, or a Server-to-Server
app's credentials checked before they are saved. Administrators only."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from zoomguard.errors import OAuthConnectError, ZoomGuardError
from zoomguard.service import connect_s2s, utcnow
from zoomguard.service.clients import enabled_features, load_profile
from zoomguard.service.connect import (
    OAuthApp,
    begin_connect,
    complete_connect,
)
from zoomguard.store.records import ROLE_ADMIN
from zoomguard.webhooks.context import app_context
from zoomguard.webhooks.dashboard.auth import current_user, guard_blueprint, require_role

log = logging.getLogger("zoomguard.dashboard")

bp = Blueprint("connect", __name__)
guard_blueprint(bp)

BINDING_KEY = "oauth_binding"
# Column widths of accounts (docs/schema.md), and a generous bound for a secret.
MAX_ACCOUNT_ID = 64
MAX_CLIENT_ID = 200
MAX_SECRET = 500
MAX_NAME = 200


def _redirect_uri() -> str:
    configured = app_context().settings.zoom_oauth_redirect_url
    return configured or url_for("connect.oauth_callback", _external=True)


@bp.get("/connect")
@require_role(ROLE_ADMIN)
def page() -> str:
    settings = app_context().settings
    return render_template(
        "connect.html",
        oauth_configured=OAuthApp.from_settings(settings) is not None,
        redirect_uri=_redirect_uri(),
        form={"account_id": "", "client_id": "", "name": ""},
    )


@bp.post("/connect/oauth")
@require_role(ROLE_ADMIN)
def oauth_start() -> WerkzeugResponse:
    context = app_context()
    user = current_user()
    assert user is not None
    binding = session.get(BINDING_KEY)
    if not isinstance(binding, str) or not binding:
        binding = secrets.token_urlsafe(32)
        session[BINDING_KEY] = binding
    try:
        url = begin_connect(
            context.settings,
            context.store,
            redirect_uri=_redirect_uri(),
            binding=binding,
            user_id=user.id,
            now=utcnow(),
        )
    except ZoomGuardError as exc:
        flash(f"Cannot start the connection: {exc}", "error")
        return redirect(url_for("connect.page"))
    return redirect(url, code=303)


@bp.get("/connect/oauth/callback")
@require_role(ROLE_ADMIN)
def oauth_callback() -> WerkzeugResponse:
    context = app_context()
    user = current_user()
    assert user is not None
    binding = session.get(BINDING_KEY)
    try:
        account = complete_connect(
            context.settings,
            context.store,
            redirect_uri=_redirect_uri(),
            state=request.args.get("state"),
            code=request.args.get("code"),
            error=request.args.get("error"),
            binding=binding if isinstance(binding, str) else None,
            connected_by=user.username,
            features=enabled_features(context.settings, load_profile(context.settings)),
            now=utcnow(),
        )
    except OAuthConnectError as exc:
        log.warning("dashboard: OAuth connect refused: %s", exc)
        flash(str(exc), "error")
        return redirect(url_for("connect.page"))
    except ZoomGuardError as exc:
        log.warning("dashboard: OAuth connect failed: %s", exc)
        flash(f"Zoom did not complete the connection: {exc}", "error")
        return redirect(url_for("connect.page"))
    flash(
        f"Connected Zoom account {account.name or account.zoom_account_id}. "
        "Its tokens are stored encrypted."
    )
    return redirect(url_for("dashboard.index"))


@bp.post("/connect/s2s")
@require_role(ROLE_ADMIN)
def s2s() -> WerkzeugResponse | tuple[str, int]:
    context = app_context()
    user = current_user()
    assert user is not None
    account_id = request.form.get("account_id", "").strip()
    client_id = request.form.get("client_id", "").strip()
    client_secret = request.form.get("client_secret", "").strip()
    name = request.form.get("name", "").strip() or None
    form = {"account_id": account_id[:MAX_ACCOUNT_ID], "client_id": client_id[:MAX_CLIENT_ID]}
    form["name"] = (name or "")[:MAX_NAME]
    problem = _s2s_problem(account_id, client_id, client_secret, name)
    if problem is None:
        try:
            account = connect_s2s(
                context.settings,
                context.store,
                account_id=account_id,
                client_id=client_id,
                client_secret=client_secret,
                name=name,
            )
        except ZoomGuardError as exc:
            log.warning("dashboard: Server-to-Server connect failed: %s", exc.reason)
            problem = f"Zoom did not accept these credentials: {exc}"
        else:
            context.store.audit.append(
                account_pk=account.id,
                actor="dashboard",
                action="account.connect",
                target=f"account:{account.zoom_account_id}",
                before=None,
                after={"auth_type": "s2s"},
                confirmed=True,
                detail=f"Server-to-Server app connected by {user.username}",
                now=utcnow(),
            )
            flash(
                f"Connected Zoom account {account.name or account.zoom_account_id}. "
                "The client secret is stored encrypted."
            )
            return redirect(url_for("dashboard.index"))
    settings = context.settings
    # The secret is never sent back to the browser, not even into the form it came from.
    return render_template(
        "connect.html",
        oauth_configured=OAuthApp.from_settings(settings) is not None,
        redirect_uri=_redirect_uri(),
        form=form,
        s2s_error=problem,
    ), 400


def _s2s_problem(account_id: str, client_id: str, secret: str, name: str | None) -> str | None:
    if not (account_id and client_id and secret):
        return "Enter the account ID, the client ID and the client secret."
    if len(account_id) > MAX_ACCOUNT_ID or len(client_id) > MAX_CLIENT_ID:
        return "The account ID or client ID is longer than Zoom's."
    if len(secret) > MAX_SECRET:
        return "The client secret is longer than Zoom's."
    if name is not None and len(name) > MAX_NAME:
        return f"The name must have at most {MAX_NAME} characters."
    return None

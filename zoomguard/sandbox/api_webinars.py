"""/v2 webinar endpoints: list a user's webinars, read, update and delete one.

Without a webinar plan (``config.webinar_plan`` False) each answers as Zoom's OpenAPI document
says: HTTP 400, code 200, "Webinar plan is missing. ...".
"""

from __future__ import annotations

from datetime import UTC, datetime

from zoomguard.sandbox.meetings import MeetingValidationError
from zoomguard.sandbox.model import meeting_view, parse_iso
from zoomguard.sandbox.replies import (
    Call,
    Reply,
    bad_page_token,
    daily_cap_reply,
    error,
    page_size_arg,
    paging_fields,
    user_or_reply,
    validation_reply,
)
from zoomguard.sandbox.webinars import validate_webinar_patch, webinar_list_item

WEBINAR_LIST_TYPES = ("scheduled", "upcoming")


def _no_plan(call: Call, user_id: str) -> Reply | None:
    if call.config.webinar_plan:
        return None
    return error(
        400,
        200,
        "Webinar plan is missing. You must subscribe to the webinar plan and enable webinars "
        f"for this user in order to perform this action: {user_id}.",
    )


def _webinar_or_reply(call: Call, webinar_id: str) -> dict[str, object] | Reply:
    webinar = call.state.find_webinar(webinar_id)
    if webinar is None:
        return error(404, 3001, f"Webinar does not exist: {webinar_id}.")
    refused = _no_plan(call, str(webinar["host_id"]))
    return refused if refused is not None else webinar


def list_webinars(call: Call, user_id: str) -> Reply:
    user = user_or_reply(call, user_id)
    if isinstance(user, Reply):
        return user
    refused = _no_plan(call, user["id"])
    if refused is not None:
        return refused
    kind = call.args.get("type") or "scheduled"
    if kind not in WEBINAR_LIST_TYPES:
        return error(400, 300, "Invalid field: type.")
    size = page_size_arg(call, 30, 300)
    if isinstance(size, Reply):
        return size
    state = call.state
    now = datetime.now(UTC)
    with state.lock:
        ids = [
            w["id"]
            for w in state.webinars_of(user["id"])
            # "upcoming": not yet begun, or recurring without a fixed time (no start_time).
            if kind == "scheduled" or "start_time" not in w or parse_iso(w["start_time"]) >= now
        ]
        page = state.paginate(
            f"webinars:{user['id']}:{kind}", ids, size, call.args.get("next_page_token")
        )
        if page is None:
            return bad_page_token()
        chunk, token, total = page
        items = [webinar_list_item(state.webinars[wid]) for wid in chunk if wid in state.webinars]
    return Reply(200, {**paging_fields(total, size, token), "webinars": items})


def get_webinar(call: Call, webinar_id: str) -> Reply:
    webinar = _webinar_or_reply(call, webinar_id)
    if isinstance(webinar, Reply):
        return webinar
    with call.state.lock:
        return Reply(200, meeting_view(webinar))


def patch_webinar(call: Call, webinar_id: str) -> Reply:
    webinar = _webinar_or_reply(call, webinar_id)
    if isinstance(webinar, Reply):
        return webinar
    body = call.body if call.body is not None else {}
    try:
        settings = webinar.get("settings")
        validate_webinar_patch(body, settings if isinstance(settings, dict) else None)
    except MeetingValidationError as exc:
        return validation_reply(exc)
    # Zoom counts a webinar's updates in the host's 100-a-day meeting create/update budget.
    if not call.state.update_counter.try_count(
        str(webinar["host_id"]), call.config.daily_update_limit
    ):
        return daily_cap_reply(call.config.daily_update_limit, datetime.now(UTC))
    try:
        call.state.update_webinar(int(str(webinar["id"])), body, operator_id=call.token.user_id)
    except KeyError:  # deleted meanwhile
        return error(404, 3001, f"Webinar does not exist: {webinar_id}.")
    return Reply(204)


def delete_webinar(call: Call, webinar_id: str) -> Reply:
    webinar = _webinar_or_reply(call, webinar_id)
    if isinstance(webinar, Reply):
        return webinar
    if not call.state.delete_webinar(int(str(webinar["id"])), operator_id=call.token.user_id):
        return error(404, 3001, f"Webinar does not exist: {webinar_id}.")
    return Reply(204)

"""/_sandbox/* control endpoints (JSON) for scripting the sandbox from another process.

GET  /_sandbox/state                 summary counts and knobs
GET  /_sandbox/requests?since=N      the request log from index N ({"requests": [...], "next": M})
DELETE /_sandbox/requests            clear the request log
GET  /_sandbox/events?event=NAME     events emitted (delivered or not)
GET  /_sandbox/deliveries?event=NAME webhook delivery attempts
GET  /_sandbox/noncompliance         the generator's ground truth {meeting id: [kinds]}
GET  /_sandbox/faults                pending faults
POST /_sandbox/faults                {"method", "target", "status", "retry_after", "code",
                                      "message", "times"} or {"delete_after_list": meeting id}
POST /_sandbox/config                change knobs (latency_ms, error_rate, drop_rate, ...)
POST /_sandbox/scenario/<name>       see SCENARIOS
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from zoomguard.sandbox.config import PLAN_RATES
from zoomguard.sandbox.meetings import MeetingValidationError

if TYPE_CHECKING:
    from zoomguard.sandbox.app import SandboxApp

JSON_TYPE = "application/json"

CONFIG_KNOBS: dict[str, tuple[type, ...]] = {
    "latency_ms": (int, float),
    "latency_jitter_ms": (int, float),
    "error_rate": (int, float),
    "drop_rate": (int, float),
    "token_ttl_seconds": (int, float),
    "webhook_url": (str, type(None)),
    "webhook_time_scale": (int, float),
    "enforce_rate_limits": (bool,),
    "rate_light": (int, float, type(None)),
    "rate_medium": (int, float, type(None)),
    "plan": (str,),
    "daily_update_limit": (int,),
}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE)


def _body(request: Request) -> dict[str, Any]:
    raw = request.get_data()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ControlError(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def _meeting_id(app: SandboxApp, data: dict[str, Any]) -> int:
    ref = data.get("meeting_id")
    meeting = app.state.find_meeting(str(ref)) if ref is not None else None
    if meeting is None:
        raise ControlError(404, f"no such meeting: {ref}")
    return int(meeting["id"])


def _start_meeting(app: SandboxApp, data: dict[str, Any]) -> Any:
    live = app.state.start_meeting(_meeting_id(app, data))
    return {"meeting_id": live.meeting_id, "uuid": live.uuid}


def _end_meeting(app: SandboxApp, data: dict[str, Any]) -> Any:
    return {"ended": app.state.end_meeting(_meeting_id(app, data)) is not None}


def _start_recording(app: SandboxApp, data: dict[str, Any]) -> Any:
    live = app.state.start_recording(_meeting_id(app, data))
    return {"meeting_id": live.meeting_id, "uuid": live.uuid}


def _stop_recording(app: SandboxApp, data: dict[str, Any]) -> Any:
    return {"stopped": app.state.stop_recording(_meeting_id(app, data))}


def _complete_recording(app: SandboxApp, data: dict[str, Any]) -> Any:
    recording = app.state.complete_recording(
        _meeting_id(app, data), end_meeting=bool(data.get("end_meeting", True))
    )
    return {"meeting_id": recording.meeting_id, "uuid": recording.uuid}


def _jbh(app: SandboxApp, data: dict[str, Any]) -> Any:
    joined = app.state.participant_joins_before_host(
        _meeting_id(app, data), str(data.get("user_name", "Guest"))
    )
    return {"joined": joined}


def _update_meeting(app: SandboxApp, data: dict[str, Any]) -> Any:
    meeting_id = _meeting_id(app, data)
    host = app.state.meetings[meeting_id]["host_id"]
    try:
        meeting = app.state.update_meeting(meeting_id, data.get("patch", {}), operator_id=host)
    except MeetingValidationError as exc:
        raise ControlError(400, f"{exc.field}: {exc.message}") from None
    return meeting


def _delete_meeting(app: SandboxApp, data: dict[str, Any]) -> Any:
    return {"deleted": app.state.delete_meeting(_meeting_id(app, data))}


def _create_meeting(app: SandboxApp, data: dict[str, Any]) -> Any:
    user = app.state.find_user(str(data.get("user_id", "me")))
    if user is None:
        raise ControlError(404, "no such user")
    try:
        return app.state.create_meeting(
            user, data.get("meeting", {}), operator_id=user["id"], source="web_portal"
        )
    except MeetingValidationError as exc:
        raise ControlError(400, f"{exc.field}: {exc.message}") from None


def _expire_tokens(app: SandboxApp, data: dict[str, Any]) -> Any:
    app.state.expire_tokens()
    return {"expired": True}


def _validate_webhook(app: SandboxApp, data: dict[str, Any]) -> Any:
    if app.webhooks is None:
        raise ControlError(409, "webhooks are not running")
    result = app.webhooks.validate_url(data.get("url"))
    return {"ok": result.ok, "status": result.status, "error": result.error}


def _wait_webhooks(app: SandboxApp, data: dict[str, Any]) -> Any:
    if app.webhooks is None:
        return {"idle": True}
    timeout = float(data.get("timeout", 10.0))
    include = bool(data.get("include_retries", True))
    return {"idle": app.webhooks.wait_idle(timeout, include_retries=include)}


SCENARIOS: dict[str, Callable[[SandboxApp, dict[str, Any]], Any]] = {
    "start_meeting": _start_meeting,
    "end_meeting": _end_meeting,
    "start_recording": _start_recording,
    "stop_recording": _stop_recording,
    "complete_recording": _complete_recording,
    "participant_jbh_joined": _jbh,
    "update_meeting": _update_meeting,
    "delete_meeting": _delete_meeting,
    "create_meeting": _create_meeting,
    "expire_tokens": _expire_tokens,
    "validate_webhook": _validate_webhook,
    "wait_webhooks": _wait_webhooks,
}


def _set_config(app: SandboxApp, data: dict[str, Any]) -> dict[str, Any]:
    config = app.state.config
    for key, value in data.items():
        kinds = CONFIG_KNOBS.get(key)
        if kinds is None:
            raise ControlError(400, f"unknown setting: {key}")
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ControlError(400, f"bad value for {key}")
        if key == "plan" and value not in PLAN_RATES:
            raise ControlError(400, f"plan must be one of {', '.join(PLAN_RATES)}")
        if key in ("error_rate", "drop_rate") and not 0 <= float(str(value)) <= 1:
            raise ControlError(400, f"{key} must be between 0 and 1")
    for key, value in data.items():
        setattr(config, key, value)
    return app.state.summary()


def _add_fault(app: SandboxApp, data: dict[str, Any]) -> dict[str, Any]:
    if "delete_after_list" in data:
        app.state.delete_after_list(int(data["delete_after_list"]))
        return {"delete_after_list": int(data["delete_after_list"])}
    if "method" not in data or "target" not in data:
        raise ControlError(400, "method and target are required")
    fault = app.state.fail_once(
        str(data["method"]),
        str(data["target"]),
        status=int(data.get("status", 429)),
        retry_after=data.get("retry_after", "1"),
        code=data.get("code"),
        message=data.get("message"),
        times=int(data.get("times", 1)),
    )
    return fault.as_dict()


def _dispatch(app: SandboxApp, request: Request) -> Any:
    path = request.path[len("/_sandbox/") :].strip("/")
    method = request.method
    state = app.state
    if path == "state" and method == "GET":
        return state.summary()
    if path == "requests" and method == "GET":
        since = int(request.args.get("since", "0") or 0)
        records = state.request_log(since)
        return {"requests": [r.as_dict() for r in records], "next": since + len(records)}
    if path == "requests" and method == "DELETE":
        state.clear_request_log()
        return {"cleared": True}
    if path == "events" and method == "GET":
        return {"events": state.events_snapshot(request.args.get("event") or None)}
    if path == "deliveries" and method == "GET":
        found = state.deliveries_snapshot(request.args.get("event") or None)
        return {"deliveries": [d.as_dict() for d in found]}
    if path == "noncompliance" and method == "GET":
        with state.lock:
            return {str(k): list(v) for k, v in state.noncompliance.items()}
    if path == "faults" and method == "GET":
        return {"faults": [f.as_dict() for f in state.pending_faults()]}
    if path == "faults" and method == "POST":
        return _add_fault(app, _body(request))
    if path == "config" and method == "POST":
        return _set_config(app, _body(request))
    if path.startswith("scenario/") and method == "POST":
        scenario = SCENARIOS.get(path[len("scenario/") :])
        if scenario is None:
            raise ControlError(404, f"unknown scenario; known: {', '.join(sorted(SCENARIOS))}")
        return scenario(app, _body(request))
    raise ControlError(404, "unknown control endpoint")


def handle_control(app: SandboxApp, request: Request) -> Response:
    try:
        return _json(_dispatch(app, request))
    except ControlError as exc:
        return _json({"error": str(exc)}, exc.status)
    except (KeyError, ValueError, TypeError) as exc:
        return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)

"""Check HTTP traffic and webhook bodies against Zoom's own OpenAPI documents.

Used by the client tests (every request zoomguard sends), the sandbox tests (every response and
webhook the sandbox produces) and the end-to-end tests. Public API (keep it stable):

    validate_request(method, path, query=None, body=None, api_prefix="/v2") -> None
    validate_prepared_request(request: requests.PreparedRequest, api_prefix="/v2") -> None
    validate_response(method, path, status, body, api_prefix="/v2", *, strict=True) -> None
    validate_webhook(event, body, *, strict=True) -> None
    match_operation(method, path, api_prefix="/v2") -> Operation
    webhook_events() -> list[str];  webhook_example(event) -> dict

Every failure is an ``AssertionError`` whose message names the request and the rule broken.

Decisions, and why:
- jsonschema directly (not openapi-core): the documents are ~2 MB each and have no $refs (the
  webhooks file has a handful), so compiling one small validator per operation on first use is
  fast and simple. Parsed documents and compiled validators are cached at module level.
- ``oneOf`` is treated as ``anyOf``: Zoom's branches overlap (the settings bodies offer a full
  settings object, an authentication-options object and a meeting_security object, none with
  required fields), so a correct body often matches more than one branch.
- "No invented fields": Zoom's endpoint schemas almost never say ``additionalProperties: false``,
  so on top of the schema we fail on any object member that no (sub)schema at that position
  declares. Objects whose schema declares no properties at all, or explicitly allows
  additional ones, are free-form and are not checked this way. ``strict=False`` turns this off.
- Formats: only ``date`` and ``date-time`` are checked (the ones that catch real bugs such as a
  datetime in a ``from`` query parameter); Zoom's other formats (int64, email, "Hex color code")
  are annotations or too loosely followed by Zoom itself.
- Error responses: Zoom documents most 4xx only by a description, without a body schema, and
  may answer 401/5xx on any operation. An error status that is not documented with a schema is
  accepted when its body is Zoom's usual ``{"code": int, "message": str}`` (or empty).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from jsonschema import Draft4Validator, Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

ENDPOINT_DOCUMENTS = ("meetings-endpoints.json", "users-endpoints.json", "accounts-endpoints.json")
WEBHOOK_DOCUMENT = "meetings-webhooks.json"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

_FORMATS = FormatChecker(formats=("date", "date-time"))
_ANNOTATIONS = {"description", "example", "examples", "title", "default", "deprecated"}
_SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties")
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf")
_SCHEMA_KEYWORDS = ("items", "additionalProperties", "not", "additionalItems")

# Zoom's usual error body; its documents describe error statuses in prose only.
ERROR_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": False,
}

# endpoint.url_validation is described only on the guide page
# https://developers.zoom.us/docs/api/webhooks/ (not in meetings-webhooks.json, see SOURCES.md),
# so this is our own schema of what that page shows.
URL_VALIDATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "event_ts", "payload"],
    "properties": {
        "event": {"const": "endpoint.url_validation"},
        "event_ts": {"type": "integer"},
        "payload": {
            "type": "object",
            "required": ["plainToken"],
            "properties": {"plainToken": {"type": "string", "minLength": 1}},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}


def spec_dir() -> Traversable:
    """The documents directory: zoomguard/sandbox/openapi/, shipped with the package."""
    return resources.files("zoomguard.sandbox") / "openapi"


# ---------------------------------------------------------------------------------------------
# Loading and indexing (once per process)


@dataclass(frozen=True)
class Operation:
    """One documented operation, as matched for a concrete request path."""

    document: str
    template: str
    method: str
    operation_id: str
    path_params: Mapping[str, str]  # raw (still percent-encoded) path segments

    def describe(self) -> str:
        return f"{self.method.upper()} {self.template} ({self.document} {self.operation_id})"


@dataclass
class _Route:
    template: str
    regex: re.Pattern[str]
    literal_flags: tuple[bool, ...]  # per segment: literal (True) or template (False)
    operations: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass
class _Compiled:
    path_params: dict[str, Validator]
    query_params: dict[str, tuple[Validator, dict[str, Any], bool]]
    body: tuple[Validator, dict[str, Any]] | None
    body_required: bool
    body_content_types: tuple[str, ...]
    responses: dict[str, tuple[Validator, dict[str, Any]] | None]


@dataclass
class _Specs:
    routes_by_length: dict[int, list[_Route]]
    routes_by_template: dict[str, _Route]
    webhooks: dict[str, Any]


_LOCK = threading.RLock()
_specs: _Specs | None = None
_compiled_operations: dict[tuple[str, str, str], _Compiled] = {}
_compiled_webhooks: dict[str, tuple[Validator, dict[str, Any]]] = {}


def _load_json(name: str) -> dict[str, Any]:
    path = spec_dir() / name
    try:
        with path.open(encoding="utf-8") as handle:
            loaded: dict[str, Any] = json.load(handle)
    except FileNotFoundError:
        raise AssertionError(
            f"Zoom OpenAPI document {path} not found (it ships in zoomguard/sandbox/openapi/)"
        ) from None
    return loaded


def _template_regex(template: str) -> tuple[re.Pattern[str], tuple[bool, ...]]:
    parts: list[str] = []
    flags: list[bool] = []
    for segment in template.strip("/").split("/"):
        pieces = re.split(r"(\{[^}]+\})", segment)
        pattern = ""
        for piece in pieces:
            if piece.startswith("{") and piece.endswith("}"):
                pattern += f"(?P<{_group_name(piece[1:-1])}>[^/]+)"
            else:
                pattern += re.escape(piece)
        parts.append(pattern)
        flags.append("{" not in segment)
    return re.compile("/" + "/".join(parts)), tuple(flags)


def _group_name(param: str) -> str:
    # regex group names must be identifiers; Zoom's are (userId, meetingId, ...)
    return re.sub(r"\W", "_", param)


def _specs_loaded() -> _Specs:
    global _specs
    with _LOCK:
        if _specs is None:
            routes: dict[str, _Route] = {}
            for name in ENDPOINT_DOCUMENTS:
                document = _load_json(name)
                for template, item in document.get("paths", {}).items():
                    route = routes.get(template)
                    if route is None:
                        regex, flags = _template_regex(template)
                        route = routes[template] = _Route(template, regex, flags)
                    for method, operation in item.items():
                        if method in HTTP_METHODS and method not in route.operations:
                            route.operations[method] = (name, operation)
            by_length: dict[int, list[_Route]] = {}
            for route in routes.values():
                by_length.setdefault(len(route.literal_flags), []).append(route)
            webhook_doc = _load_json(WEBHOOK_DOCUMENT)
            _specs = _Specs(by_length, routes, _fix_webhook_refs(webhook_doc))
        return _specs


def _fix_webhook_refs(document: dict[str, Any]) -> dict[str, Any]:
    """Inline the webhook document's $refs after rewriting its #/paths/ defect (SOURCES.md)."""

    def resolve(pointer: str, depth: int) -> Any:
        if depth > 20:
            raise AssertionError(f"$ref cycle at {pointer} in {WEBHOOK_DOCUMENT}")
        node: Any = document
        for token in pointer.removeprefix("#/").split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return inline(node, depth + 1)

    def inline(node: Any, depth: int) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                return copy.deepcopy(resolve(ref.replace("#/paths/", "#/webhooks/"), depth))
            return {key: inline(value, depth) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value, depth) for value in node]
        return node

    webhooks: dict[str, Any] = inline(document.get("webhooks", {}), 0)
    return webhooks


# ---------------------------------------------------------------------------------------------
# Schema preparation


def _prepare(schema: Any, *, openapi_30: bool) -> Any:
    """Copy a schema, dropping annotations, oneOf -> anyOf, and 3.0 ``nullable`` -> a null type."""
    if not isinstance(schema, dict):
        return schema
    prepared: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS or key.startswith("x-") or key == "nullable":
            continue
        if key in _SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            prepared[key] = {
                name: _prepare(sub, openapi_30=openapi_30) for name, sub in value.items()
            }
        elif key in _SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            target = "anyOf" if key == "oneOf" else key
            branches = [_prepare(sub, openapi_30=openapi_30) for sub in value]
            prepared[target] = prepared.get(target, []) + branches
        elif key in _SCHEMA_KEYWORDS:
            if isinstance(value, list):
                prepared[key] = [_prepare(sub, openapi_30=openapi_30) for sub in value]
            else:
                prepared[key] = _prepare(value, openapi_30=openapi_30)
        else:
            prepared[key] = value
    if openapi_30 and schema.get("nullable") is True and isinstance(prepared.get("type"), str):
        prepared["type"] = [prepared["type"], "null"]
    return prepared


def _validator(schema: dict[str, Any], *, openapi_30: bool) -> Validator:
    cls = Draft4Validator if openapi_30 else Draft202012Validator
    validator: Validator = cls(schema, format_checker=_FORMATS)
    return validator


def _json_schema(content: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not content:
        return None
    for media_type, media in content.items():
        if media_type.split(";")[0].strip().endswith("json"):
            schema = media.get("schema")
            return schema if isinstance(schema, dict) else {}
    return None


def _compile(operation: dict[str, Any]) -> _Compiled:
    path_params: dict[str, Validator] = {}
    query_params: dict[str, tuple[Validator, dict[str, Any], bool]] = {}
    for parameter in operation.get("parameters", []):
        schema = _prepare(parameter.get("schema", {}), openapi_30=True)
        validator = _validator(schema, openapi_30=True)
        if parameter.get("in") == "path":
            path_params[parameter["name"]] = validator
        elif parameter.get("in") == "query":
            query_params[parameter["name"]] = (
                validator,
                schema,
                bool(parameter.get("required")),
            )
    body: tuple[Validator, dict[str, Any]] | None = None
    request_body = operation.get("requestBody") or {}
    content = request_body.get("content") or {}
    body_schema = _json_schema(content)
    if body_schema is not None:
        prepared = _prepare(body_schema, openapi_30=True)
        body = (_validator(prepared, openapi_30=True), prepared)
    responses: dict[str, tuple[Validator, dict[str, Any]] | None] = {}
    for status, response in (operation.get("responses") or {}).items():
        response_schema = _json_schema(response.get("content"))
        if response_schema is None:
            responses[str(status)] = None
        else:
            prepared = _prepare(response_schema, openapi_30=True)
            responses[str(status)] = (_validator(prepared, openapi_30=True), prepared)
    return _Compiled(
        path_params=path_params,
        query_params=query_params,
        body=body,
        body_required=bool(request_body.get("required")),
        body_content_types=tuple(content),
        responses=responses,
    )


def _compiled(op: Operation) -> _Compiled:
    key = (op.document, op.template, op.method)
    with _LOCK:
        compiled = _compiled_operations.get(key)
        if compiled is None:
            _, raw = _specs_loaded().routes_by_template[op.template].operations[op.method]
            compiled = _compiled_operations[key] = _compile(raw)
        return compiled


# ---------------------------------------------------------------------------------------------
# Matching


def _split_target(path: str, api_prefix: str) -> tuple[str, dict[str, list[str]]]:
    """Accept a path, a path with a query string or a full URL; return (API path, query)."""
    parts = urlsplit(path)
    raw_path = parts.path
    query = parse_qs(parts.query, keep_blank_values=True) if parts.query else {}
    prefix = api_prefix.rstrip("/")
    if prefix and (raw_path == prefix or raw_path.startswith(prefix + "/")):
        raw_path = raw_path[len(prefix) :]
    return raw_path or "/", query


def match_operation(method: str, path: str, api_prefix: str = "/v2") -> Operation:
    """The documented operation for a concrete request, preferring literal path segments."""
    api_path, _ = _split_target(path, api_prefix)
    if api_path != "/" and api_path.endswith("/"):
        raise AssertionError(f"{method.upper()} {path}: trailing slash is not a Zoom API path")
    length = len(api_path.strip("/").split("/"))
    candidates: list[tuple[tuple[bool, ...], _Route, re.Match[str]]] = []
    for route in _specs_loaded().routes_by_length.get(length, []):
        found = route.regex.fullmatch(api_path)
        if found is not None:
            candidates.append((route.literal_flags, route, found))
    if not candidates:
        raise AssertionError(
            f"{method.upper()} {path}: no such path in Zoom's OpenAPI documents "
            f"({', '.join(ENDPOINT_DOCUMENTS)})"
        )
    # Prefer the template whose leftmost segments are literal: /users/{userId}/meetings beats
    # /users/{userId}/{type}, and /users/me/... templates (if any) beat /users/{userId}/...
    candidates.sort(key=lambda item: item[0], reverse=True)
    wanted = method.lower()
    for _, route, found in candidates:
        if wanted in route.operations:
            document, raw = route.operations[wanted]
            names = re.findall(r"\{([^}]+)\}", route.template)
            params = {name: found.group(_group_name(name)) for name in names}
            return Operation(
                document, route.template, wanted, str(raw.get("operationId", "?")), params
            )
    templates = ", ".join(route.template for _, route, _ in candidates)
    methods = sorted({m.upper() for _, route, _ in candidates for m in route.operations})
    raise AssertionError(
        f"{method.upper()} {path}: method not documented for {templates} "
        f"(documented: {', '.join(methods)})"
    )


# ---------------------------------------------------------------------------------------------
# Value checks


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """A query/path string as the typed value OpenAPI means (left as-is when it cannot be)."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if "number" in kinds and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", raw):
        return float(raw)
    if "boolean" in kinds and raw in ("true", "false"):
        # Zoom wants lower-case true/false; Python's str(True) would stay a string and fail.
        return raw == "true"
    return raw


def _first_error(validator: Validator, instance: Any) -> str | None:
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{error.message}" + (f" (at {where})" if where else "")


def _flatten(schemas: Sequence[Any]) -> Iterator[dict[str, Any]]:
    for schema in schemas:
        if not isinstance(schema, dict):
            continue
        yield schema
        for keyword in ("allOf", "anyOf", "oneOf"):
            yield from _flatten(schema.get(keyword, []))


def undeclared_fields(instance: Any, schema: Mapping[str, Any], where: str = "") -> list[str]:
    """Members of ``instance`` that no (sub)schema at their position declares."""
    return _undeclared(instance, [schema], where)


def _undeclared(instance: Any, schemas: Sequence[Any], where: str) -> list[str]:
    flat = list(_flatten(schemas))
    found: list[str] = []
    if isinstance(instance, dict):
        declared: dict[str, list[Any]] = {}
        for schema in flat:
            for name, sub in (schema.get("properties") or {}).items():
                declared.setdefault(name, []).append(sub)
        open_ended = any(
            schema.get("additionalProperties", False) not in (False, None)
            or schema.get("patternProperties")
            for schema in flat
        )
        free_form = not declared and not any(
            schema.get("additionalProperties") is False for schema in flat
        )
        for name, value in instance.items():
            child = f"{where}.{name}" if where else str(name)
            if name in declared:
                found.extend(_undeclared(value, declared[name], child))
            elif not (open_ended or free_form):
                found.append(child)
    elif isinstance(instance, list):
        items = [schema["items"] for schema in flat if isinstance(schema.get("items"), dict)]
        if items:
            for index, value in enumerate(instance):
                found.extend(_undeclared(value, items, f"{where}[{index}]"))
    return found


def _check_json(
    label: str,
    what: str,
    validator: Validator,
    schema: Mapping[str, Any],
    instance: Any,
    *,
    strict: bool,
) -> None:
    problem = _first_error(validator, instance)
    if problem is not None:
        raise AssertionError(f"{label}: {what} does not match Zoom's schema: {problem}")
    if strict:
        invented = undeclared_fields(instance, schema)
        if invented:
            raise AssertionError(
                f"{label}: {what} has fields Zoom's schema does not declare (no invented "
                f"fields): {', '.join(invented[:10])}"
            )


def _decode_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if isinstance(body, str):
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise AssertionError(f"body is not JSON: {body[:80]!r}") from None
    return body


def _is_empty(body: Any) -> bool:
    return body is None or body in ("", b"")


# ---------------------------------------------------------------------------------------------
# Public checks


def validate_request(
    method: str,
    path: str,
    query: Mapping[str, str | list[str]] | None = None,
    body: Any | None = None,
    api_prefix: str = "/v2",
) -> None:
    """Fail unless Zoom documents this request: path, method, query parameters and JSON body.

    ``path`` may carry a query string or be a full URL (its query is merged with ``query``);
    ``body`` is the JSON value, or the raw bytes/str that encode it.
    """
    op = match_operation(method, path, api_prefix)
    label = f"{method.upper()} {path} [{op.describe()}]"
    compiled = _compiled(op)

    for name, raw in op.path_params.items():
        decoded = unquote(raw)
        # Zoom: a UUID that starts with "/" or contains "//" must be double-encoded.
        if decoded.startswith("/") or "//" in decoded:
            raise AssertionError(
                f"{label}: path parameter {name}={raw!r} must be double-encoded "
                "(it starts with '/' or contains '//')"
            )
        path_validator = compiled.path_params.get(name)
        if path_validator is not None:
            problem = _first_error(path_validator, _coerce(decoded, path_validator.schema))
            if problem is not None:
                raise AssertionError(f"{label}: path parameter {name}={decoded!r}: {problem}")

    _, url_query = _split_target(path, api_prefix)
    merged: dict[str, list[str]] = {key: list(values) for key, values in url_query.items()}
    for key, value in (query or {}).items():
        merged.setdefault(key, []).extend([value] if isinstance(value, str) else list(value))
    for name, values in merged.items():
        if name not in compiled.query_params:
            known = ", ".join(sorted(compiled.query_params)) or "none"
            raise AssertionError(f"{label}: unknown query parameter {name!r} (documented: {known})")
        validator, schema, _ = compiled.query_params[name]
        if schema.get("type") == "array":
            instance: Any = [_coerce(v, schema.get("items", {})) for v in values]
        elif len(values) != 1:
            raise AssertionError(f"{label}: query parameter {name!r} given {len(values)} times")
        else:
            instance = _coerce(values[0], schema)
        problem = _first_error(validator, instance)
        if problem is not None:
            raise AssertionError(f"{label}: query parameter {name}={values!r}: {problem}")
    for name, (_, _, required) in compiled.query_params.items():
        if required and name not in merged:
            raise AssertionError(f"{label}: required query parameter {name!r} is missing")

    decoded_body = _decode_body(body)
    if decoded_body is None:
        if compiled.body_required:
            raise AssertionError(f"{label}: a request body is required")
        return
    if compiled.body is None:
        if compiled.body_content_types:
            raise AssertionError(
                f"{label}: sends JSON but the operation takes "
                f"{', '.join(compiled.body_content_types)}"
            )
        raise AssertionError(f"{label}: the operation takes no request body")
    body_validator, body_schema = compiled.body
    _check_json(label, "request body", body_validator, body_schema, decoded_body, strict=True)


def validate_prepared_request(request: requests.PreparedRequest, api_prefix: str = "/v2") -> None:
    """validate_request for a recorded request (e.g. ``responses.calls[i].request``)."""
    body: Any = request.body
    content_type = request.headers.get("Content-Type", "")
    if body and content_type and "json" not in content_type:
        raise AssertionError(
            f"{request.method} {request.url}: body sent as {content_type!r}, Zoom expects JSON"
        )
    validate_request(str(request.method), str(request.url), None, body, api_prefix)


def validate_response(
    method: str,
    path: str,
    status: int,
    body: Any,
    api_prefix: str = "/v2",
    *,
    strict: bool = True,
) -> None:
    """Fail unless ``body`` is what Zoom documents for this operation and HTTP status."""
    op = match_operation(method, path, api_prefix)
    label = f"{method.upper()} {path} -> {status} [{op.describe()}]"
    compiled = _compiled(op)
    key = next(
        (
            k
            for k in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default")
            if k in compiled.responses
        ),
        None,
    )
    decoded = _decode_body(body)
    if 200 <= status < 300:
        if key is None:
            documented = ", ".join(sorted(compiled.responses)) or "none"
            raise AssertionError(f"{label}: status not documented (documented: {documented})")
        spec = compiled.responses[key]
        if spec is None:
            if not _is_empty(body):
                raise AssertionError(f"{label}: Zoom documents no content, got {body!r:.80}")
            return
        if decoded is None:
            raise AssertionError(f"{label}: Zoom documents a JSON body, got none")
        _check_json(label, "response body", spec[0], spec[1], decoded, strict=strict)
        return
    spec = compiled.responses.get(key) if key is not None else None
    if spec is not None:
        _check_json(label, "error body", spec[0], spec[1], decoded, strict=strict)
    elif decoded is not None:
        _check_json(
            label,
            "error body",
            _validator(ERROR_BODY_SCHEMA, openapi_30=False),
            ERROR_BODY_SCHEMA,
            decoded,
            strict=strict,
        )


def webhook_events() -> list[str]:
    """The events meetings-webhooks.json documents (endpoint.url_validation is not one)."""
    return sorted(_specs_loaded().webhooks)


def webhook_example(event: str) -> dict[str, Any]:
    """The documented example body of a webhook event (a fresh copy)."""
    post = _specs_loaded().webhooks.get(event, {}).get("post", {})
    content = post.get("requestBody", {}).get("content", {}).get("application/json", {})
    for example in (content.get("examples") or {}).values():
        value = example.get("value")
        loaded: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
        return copy.deepcopy(loaded)
    raise AssertionError(f"webhook {event!r} has no documented example")


def validate_webhook(event: str, body: Mapping[str, Any], *, strict: bool = True) -> None:
    """Fail unless the full webhook body {event, event_ts, payload} matches Zoom's document."""
    label = f"webhook {event}"
    if body.get("event") != event:
        raise AssertionError(f"{label}: body says event={body.get('event')!r}")
    with _LOCK:
        compiled = _compiled_webhooks.get(event)
        if compiled is None:
            if event == "endpoint.url_validation":
                schema: dict[str, Any] = URL_VALIDATION_SCHEMA
            else:
                webhook = _specs_loaded().webhooks.get(event)
                if webhook is None:
                    raise AssertionError(f"{label}: not an event in {WEBHOOK_DOCUMENT}")
                content = webhook["post"]["requestBody"]["content"]
                raw_schema = _json_schema(content)
                if raw_schema is None:
                    raise AssertionError(f"{label}: no JSON schema in {WEBHOOK_DOCUMENT}")
                schema = _prepare(raw_schema, openapi_30=False)
            compiled = _compiled_webhooks[event] = (
                _validator(schema, openapi_30=False),
                schema,
            )
    _check_json(label, "body", compiled[0], compiled[1], dict(body), strict=strict)

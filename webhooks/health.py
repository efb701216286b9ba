"""GET /healthz and GET /metrics on the web process.

``/healthz`` answers 200 with the checks of ``zoomguard.runtime.health`` as JSON when all pass,
503 when
the database is unreachable or something is overdue (a load balancer or uptime monitor needs
only the status code; a person reads the JSON). ``/metrics`` is the Prometheus text format of
``zoomguard.runtime.metrics``: database-derived metrics always, and this process's own counters only
when the app says so (``zoomguard run``, where one process is web, worker and clock); see
zoomguard/runtime/metrics.py for why the web process does not add its own.

Both read the store and settings the app factory put on ``app.extensions`` (``AppContext``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify

from zoomguard.runtime import metrics
from zoomguard.runtime.health import check_health
from zoomguard.webhooks.context import app_context

# app.config key: True adds this process's counters to /metrics (one process does everything).
PROCESS_METRICS = "ZOOMGUARD_PROCESS_METRICS"

bp = Blueprint("zoomguard_health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    context = app_context()
    report = check_health(
        context.store,
        context.settings,
        clock=lambda: datetime.fromtimestamp(context.clock(), UTC),
    )
    return jsonify(report.as_dict()), 200 if report.ok else 503


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    context = app_context()
    process = metrics.process_metrics() if current_app.config.get(PROCESS_METRICS) else None
    body = metrics.render_metrics(context.store, process=process)
    return Response(body, status=200, content_type=metrics.CONTENT_TYPE)

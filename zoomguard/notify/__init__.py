"""Telling the privacy officer: render alerts, keep them in the outbox, send them by SMTP.

- ``categories``: what an alert is about and whether it is sent at once or in a digest
- ``render``: alerts → subject, text and HTML (Jinja2 templates in ``zoomguard/templates``)
- ``smtp``: ``ZOOMGUARD_SMTP_URL`` and the smtplib sender
- ``outbox``: compose emails from alerts, flush them, report what is still unsent

Alerts are written with ``store.outbox.record_alert`` in the transaction of the finding
they report.
"""

from zoomguard.errors import DeliveryError
from zoomguard.masking import scrub_details
from zoomguard.notify.categories import (
    ALL_CATEGORIES,
    DEFAULT_IMMEDIATE,
    DIGEST,
    EVENT_DEAD,
    IMMEDIATE,
    MEETING_EXEMPT,
    MEETING_FIX_FAILED,
    MEETING_FIXED,
    MEETING_IDENTIFYING_INFORMATION,
    MEETING_REPORTED,
    MEETING_UPDATE_CAP,
    RECORDING_COMPLETED,
    RECORDING_STARTED,
    SETTINGS_BASELINE,
    SETTINGS_BASELINE_FAILED,
    Delivery,
    category_title,
    delivery_for,
    parse_immediate_categories,
)
from zoomguard.notify.outbox import (
    NO_SMTP_NOTE,
    FlushResult,
    OutboxStatus,
    backoff_delay,
    build_message,
    compose_pending,
    flush_outbox,
    officer_recipients,
    outbox_status,
    sender_from_settings,
)
from zoomguard.notify.render import (
    PRIVACY_OFFICER_DEFAULT,
    AlertRecord,
    RenderedEmail,
    SweepSummary,
    prepare_templates,
    render_digest,
    render_host_notice,
    render_immediate,
)
from zoomguard.notify.smtp import (
    Sender,
    SendResult,
    SmtpConfig,
    SmtpSender,
    parse_smtp_url,
)
from zoomguard.store import EmailRecord

__all__ = [
    "ALL_CATEGORIES",
    "DEFAULT_IMMEDIATE",
    "DIGEST",
    "EVENT_DEAD",
    "IMMEDIATE",
    "MEETING_EXEMPT",
    "MEETING_FIXED",
    "MEETING_FIX_FAILED",
    "MEETING_IDENTIFYING_INFORMATION",
    "MEETING_REPORTED",
    "MEETING_UPDATE_CAP",
    "NO_SMTP_NOTE",
    "PRIVACY_OFFICER_DEFAULT",
    "RECORDING_COMPLETED",
    "RECORDING_STARTED",
    "SETTINGS_BASELINE",
    "SETTINGS_BASELINE_FAILED",
    "AlertRecord",
    "Delivery",
    "DeliveryError",
    "EmailRecord",
    "FlushResult",
    "OutboxStatus",
    "RenderedEmail",
    "SendResult",
    "Sender",
    "SmtpConfig",
    "SmtpSender",
    "SweepSummary",
    "backoff_delay",
    "build_message",
    "category_title",
    "compose_pending",
    "delivery_for",
    "flush_outbox",
    "officer_recipients",
    "outbox_status",
    "parse_immediate_categories",
    "parse_smtp_url",
    "prepare_templates",
    "render_digest",
    "render_host_notice",
    "render_immediate",
    "scrub_details",
    "sender_from_settings",
]

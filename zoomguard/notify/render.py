"""Turning alerts into the emails people read (pure: no I/O beyond reading the templates).

An alert's ``details`` (shape in docs/schema.md) become a view with every field present, so the
Jinja2 templates in ``zoomguard/templates`` stay simple. Before anything is rendered the details
are scrubbed: a value under any key that names a password, passcode, token or secret is masked,
and so is a change to such a field, whatever the caller already did. HTML templates autoescape.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zoomguard.masking import scrub_details
from zoomguard.notify import categories as cat

if TYPE_CHECKING:
    import jinja2

PRIVACY_OFFICER_DEFAULT = "PrivacyOfficerCLBC@gov.bc.ca"
# Alerts shown in full in one digest; the rest are counted in its summary.
DIGEST_MAX_DETAILED = 300

Redactor = Callable[[str], str]

_KNOWN_KEYS = frozenset(
    {
        "meeting_id",
        "topic",
        "host_email",
        "start_time",
        "rule_id",
        "rule",
        "guidance",
        "changes",
        "confirmed",
        "failure",
        "officer_action",
        "reason",
        "status",
    }
)

# Worst first: the order of meetings and alerts inside a digest.
_CATEGORY_RANK = {
    cat.ACCOUNT_DEAUTHORIZED: 0,
    cat.SWEEP_INCOMPLETE: 1,
    cat.RECORDING_STARTED: 2,
    cat.RECORDING_COMPLETED: 3,
    cat.MEETING_FIX_FAILED: 4,
    cat.MEETING_UPDATE_CAP: 5,
    cat.EVENT_DEAD: 6,
    cat.SETTINGS_BASELINE_FAILED: 7,
    cat.MEETING_IDENTIFYING_INFORMATION: 8,
    cat.MEETING_REPORTED: 9,
    cat.SETTINGS_BASELINE: 10,
    cat.MEETING_FIXED: 11,
    cat.MEETING_EXEMPT: 12,
}

_DEFAULT_OFFICER_ACTIONS = {
    cat.MEETING_FIX_FAILED: (
        "Check the meeting in the Zoom web portal and correct it by hand, or ask the host to; "
        "cancel it if it cannot be made compliant."
    ),
    cat.MEETING_UPDATE_CAP: (
        "zoomguard tries again after 00:00 UTC. If the meeting starts before then, ask the host "
        "to correct it by hand."
    ),
    cat.MEETING_IDENTIFYING_INFORMATION: (
        "Ask the host to remove the identifying information from the meeting's topic or agenda; "
        "identifying information is discussed by phone, not video."
    ),
    cat.MEETING_REPORTED: "Ask the host to correct the meeting, or decide on an exemption.",
    cat.RECORDING_STARTED: (
        "Ask the host why the meeting was recorded and remind them that video calls are not "
        "recorded."
    ),
    cat.RECORDING_COMPLETED: (
        "Confirm the recording is gone from the Zoom web portal (Recordings, and its trash) and "
        "find out whether a copy was saved anywhere else."
    ),
    cat.SETTINGS_BASELINE_FAILED: (
        "Check the account's settings in the Zoom web portal (Account Settings, and the lock "
        "beside each setting) and set and lock this one by hand; until then hosts can schedule "
        "meetings that break the rule, which sweeps repair only after the fact."
    ),
    cat.SWEEP_INCOMPLETE: (
        "Add the scope the alert names to the Zoom app in the Marketplace (or fix what it names); "
        "until then meetings are not checked and the sweep's figures are not a clean bill."
    ),
    cat.ACCOUNT_DEAUTHORIZED: (
        "If the app was removed on purpose, nothing is to be done; otherwise add it again and run "
        "`zoomguard connect`: until then no meeting or recording is checked."
    ),
    cat.EVENT_DEAD: (
        "zoomguard gave up on this Zoom event; the next sweep re-checks scheduled meetings, but "
        "a live recording it describes may not have been stopped. Check the logs and the meeting."
    ),
}


# --- values the templates show --------------------------------------------------------------


@dataclass(frozen=True)
class AlertRecord:
    """One row of ``alerts`` as notify needs it."""

    id: int
    category: str
    details: Mapping[str, Any]
    created_at: datetime
    delivery: str = cat.DIGEST
    account_id: int | None = None
    sweep_id: int | None = None


@dataclass(frozen=True)
class SweepSummary:
    """The sweep a digest reports on (a row of ``sweeps``)."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    dry_run: bool = False
    account_name: str | None = None
    users: int = 0
    meetings: int = 0
    compliant: int = 0
    noncompliant: int = 0
    fixed: int = 0
    failed: int = 0
    exempt: int = 0
    reported: int = 0
    error: str | None = None


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class ChangeView:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class AlertView:
    id: int
    category: str
    title: str
    created_at: str
    meeting_id: str | None
    topic: str | None
    host_email: str | None
    start_time: str | None
    rule_id: str | None
    rule: str | None
    guidance: str | None
    finding: str | None
    changes: tuple[ChangeView, ...]
    confirmed: bool | None
    failure: str | None
    outcome: str
    outcome_state: str  # confirmed | unconfirmed | failed | unchanged: for the HTML colour
    officer_action: str | None
    extra: tuple[tuple[str, str], ...]
    rank: int


@dataclass(frozen=True)
class MeetingGroup:
    meeting_id: str | None
    topic: str | None
    host_email: str | None
    start_time: str | None
    alerts: tuple[AlertView, ...]


@dataclass(frozen=True)
class CategoryCount:
    title: str
    count: int


def format_value(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value == "":
        return "(empty)"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def format_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _opt_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _without_quote(reason: str | None, guidance: str | None) -> str | None:
    # The service's reasons may end by quoting the guidance, which the email shows on its own line.
    if not reason or not guidance or guidance not in reason:
        return reason
    pattern = r"\s*The guidance says:?\s*[\u201c\"]" + re.escape(guidance) + r"[\u201d\"]\.?"
    return re.sub(pattern, "", reason).strip() or reason


def _outcome(
    category: str, changes: Sequence[ChangeView], confirmed: bool | None, failure: str | None
) -> tuple[str, str]:
    if failure:
        return f"zoomguard could not correct this: {failure}", "failed"
    if changes:
        if confirmed is True:
            return "zoomguard changed it, and re-reading it from Zoom confirms the change.", (
                "confirmed"
            )
        if confirmed is False:
            return (
                "zoomguard changed it, but re-reading it from Zoom shows the change did not "
                "take effect.",
                "failed",
            )
        return "zoomguard changed it (the change could not be re-read to confirm it).", (
            "unconfirmed"
        )
    if category == cat.MEETING_EXEMPT:
        return "Nothing was changed: the meeting carries an exemption the policy allows.", (
            "unchanged"
        )
    return "Nothing was changed: zoomguard reports this for a person to handle.", "unchanged"


def category_rank(category: str) -> int:
    """How urgent a category is: 0 is the worst; unknown categories come last."""
    return _CATEGORY_RANK.get(category, len(_CATEGORY_RANK))


def meeting_id_of(details: Mapping[str, Any]) -> str | None:
    """The meeting an alert is about, exactly as ``alert_view`` shows it, without building the
    whole view (digests count the meetings of every alert but detail only a few)."""
    return _opt_text(scrub_details({"meeting_id": details.get("meeting_id")})["meeting_id"])


def alert_view(alert: AlertRecord, *, redact: Redactor | None = None) -> AlertView:
    details = scrub_details(alert.details)
    raw_changes = details.get("changes") or []
    changes = tuple(
        ChangeView(
            field=str(c.get("field", "")),
            before=format_value(c.get("before")),
            after=format_value(c.get("after")),
        )
        for c in raw_changes
        if isinstance(c, Mapping)
    )
    confirmed_raw = details.get("confirmed")
    confirmed = confirmed_raw if isinstance(confirmed_raw, bool) else None
    failure = _opt_text(details.get("failure"))
    outcome, state = _outcome(alert.category, changes, confirmed, failure)
    topic = _opt_text(details.get("topic"))
    if topic is not None and redact is not None:
        topic = redact(topic)
    officer_action = _opt_text(details.get("officer_action"))
    if officer_action is None:
        officer_action = _DEFAULT_OFFICER_ACTIONS.get(alert.category)
        if officer_action is None and state == "failed":
            officer_action = _DEFAULT_OFFICER_ACTIONS[cat.MEETING_FIX_FAILED]
    extra = tuple(
        (str(k).replace("_", " ").capitalize(), format_value(v))
        for k, v in sorted(details.items())
        if k not in _KNOWN_KEYS
    )
    return AlertView(
        id=alert.id,
        category=alert.category,
        title=cat.category_title(alert.category),
        created_at=format_time(alert.created_at),
        meeting_id=_opt_text(details.get("meeting_id")),
        topic=topic,
        host_email=_opt_text(details.get("host_email")),
        start_time=_opt_text(details.get("start_time")),
        rule_id=_opt_text(details.get("rule_id")),
        rule=_opt_text(details.get("rule")),
        guidance=_opt_text(details.get("guidance")),
        finding=_without_quote(
            _opt_text(details.get("reason")), _opt_text(details.get("guidance"))
        ),
        changes=changes,
        confirmed=confirmed,
        failure=failure,
        outcome=outcome,
        outcome_state=state,
        officer_action=officer_action,
        extra=extra,
        rank=category_rank(alert.category),
    )


def group_by_meeting(views: Iterable[AlertView]) -> list[MeetingGroup]:
    """Alerts about one meeting together; the group with the most urgent alert first."""
    groups: dict[str | None, list[AlertView]] = {}
    for view in views:
        groups.setdefault(view.meeting_id, []).append(view)
    result = []
    for meeting_id, members in groups.items():
        members.sort(key=lambda v: (v.rank, v.rule_id or "", v.id))
        first = members[0]
        result.append(
            MeetingGroup(
                meeting_id=meeting_id,
                topic=next((m.topic for m in members if m.topic), None),
                host_email=next((m.host_email for m in members if m.host_email), None),
                start_time=next((m.start_time for m in members if m.start_time), first.start_time),
                alerts=tuple(members),
            )
        )
    # Alerts about no meeting (account settings, dead events) close the list.
    result.sort(key=lambda g: (g.meeting_id is None, g.alerts[0].rank, g.start_time or ""))
    return result


# --- templates ----------------------------------------------------------------------------------


@functools.cache
def _environment() -> jinja2.Environment:
    # Built on first use, not at import time; Jinja2 itself is imported here too, so the
    # processes and commands that compose no email (a sweep until its end) do not load it.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("zoomguard", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def prepare_templates() -> None:
    """Load and compile the email templates now (Jinja2 caches them in its environment): a
    sweep does it in the background, so its digest is composed sooner after the last answer."""
    env = _environment()
    # Every file, the shared layout and blocks too: Jinja2 compiles what a template imports or
    # extends only when it is first rendered, which would be in the sweep's tail.
    for name in env.list_templates(extensions=("txt", "html")):
        env.get_template(name)


def _render(name: str, *, subject: str, **context: Any) -> RenderedEmail:
    env = _environment()
    text = env.get_template(f"{name}.txt").render(subject=subject, **context)
    html = env.get_template(f"{name}.html").render(subject=subject, **context)
    return RenderedEmail(subject=subject, text=text, html=html)


def _subject(text: str) -> str:
    # One line, and short enough for the emails.subject column.
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= 300 else one_line[:299] + "…"


def _prefix(account_name: str | None) -> str:
    return f"[zoomguard: {account_name}]" if account_name else "[zoomguard]"


def render_immediate(
    alert: AlertRecord,
    *,
    account_name: str | None = None,
    officer: str = PRIVACY_OFFICER_DEFAULT,
    redact: Redactor | None = None,
) -> RenderedEmail:
    """One alert that cannot wait, in one email. The topic never goes in the subject."""
    view = alert_view(alert, redact=redact)
    about = f": meeting {view.meeting_id}" if view.meeting_id else ""
    return _render(
        "officer_immediate",
        subject=_subject(f"{_prefix(account_name)} {view.title}{about}"),
        alert=view,
        groups=group_by_meeting([view]),
        account_name=account_name,
        officer=officer,
    )


@dataclass(frozen=True)
class DigestContent:
    """What a digest shows, folded from its alerts by ``DigestBuilder``."""

    total: int  # every alert of the digest
    # Alerts per category, in the order the categories were first seen.
    category_counts: tuple[tuple[str, int], ...]
    meetings: int  # distinct meetings the alerts are about
    # The most urgent alerts, by (rank, id): the only ones shown in full.
    detailed: tuple[AlertRecord, ...]


class DigestBuilder:
    """Folds a digest's alerts in one at a time, keeping only what the email shows.

    Memory is bounded by ``max_detailed`` alerts plus the set of distinct meeting ids (short
    strings), whatever the number of alerts, so a digest can be composed from a stream of rows.
    """

    def __init__(self, max_detailed: int = DIGEST_MAX_DETAILED) -> None:
        self._max_detailed = max(0, max_detailed)
        self._total = 0
        self._counts: dict[str, int] = {}
        self._meetings: set[str] = set()
        # A max-heap by (rank, id, arrival) through negated keys: its top is the least urgent of
        # the kept alerts, the first to go when a more urgent one arrives.
        self._worst: list[tuple[int, int, int, AlertRecord]] = []
        self._arrival = itertools.count()

    @property
    def total(self) -> int:
        return self._total

    def add(self, alert: AlertRecord) -> None:
        self._total += 1
        self._counts[alert.category] = self._counts.get(alert.category, 0) + 1
        meeting_id = meeting_id_of(alert.details)
        if meeting_id is not None:
            self._meetings.add(meeting_id)
        if self._max_detailed == 0:
            return
        key = (-category_rank(alert.category), -alert.id, -next(self._arrival), alert)
        if len(self._worst) < self._max_detailed:
            heapq.heappush(self._worst, key)
        elif key[:3] > self._worst[0][:3]:
            heapq.heapreplace(self._worst, key)

    def content(self) -> DigestContent:
        kept = sorted(self._worst, key=lambda k: k[:3], reverse=True)
        return DigestContent(
            total=self._total,
            category_counts=tuple(self._counts.items()),
            meetings=len(self._meetings),
            detailed=tuple(k[3] for k in kept),
        )


def _category_counts(counts: Iterable[tuple[str, int]]) -> list[CategoryCount]:
    # One line per title (what the reader sees), worst first.
    by_title: dict[str, int] = {}
    ranks: dict[str, int] = {}
    for category, count in counts:
        title = cat.category_title(category)
        by_title[title] = by_title.get(title, 0) + count
        ranks[title] = category_rank(category)
    return [CategoryCount(t, n) for t, n in sorted(by_title.items(), key=lambda i: ranks[i[0]])]


def render_digest(
    alerts: Iterable[AlertRecord],
    *,
    sweep: SweepSummary | None = None,
    account_name: str | None = None,
    officer: str = PRIVACY_OFFICER_DEFAULT,
    redact: Redactor | None = None,
    max_detailed: int = DIGEST_MAX_DETAILED,
) -> RenderedEmail:
    """Every digest alert of one sweep (or one batch of webhook alerts) in one email.

    The summary counts every alert; the details stop after the ``max_detailed`` most urgent, so
    a first sweep of a large account yields a readable email, not megabytes (the rest are in
    ``zoomguard report``).
    """
    builder = DigestBuilder(max_detailed)
    for alert in alerts:
        builder.add(alert)
    return render_digest_content(
        builder.content(), sweep=sweep, account_name=account_name, officer=officer, redact=redact
    )


def render_digest_content(
    content: DigestContent,
    *,
    sweep: SweepSummary | None = None,
    account_name: str | None = None,
    officer: str = PRIVACY_OFFICER_DEFAULT,
    redact: Redactor | None = None,
) -> RenderedEmail:
    """The digest email for alerts already folded by ``DigestBuilder`` (see ``render_digest``)."""
    views = [alert_view(a, redact=redact) for a in content.detailed]
    groups = group_by_meeting(views)
    meetings = content.meetings
    name = account_name or (sweep.account_name if sweep else None)
    what = f"{content.total} alert{'s' if content.total != 1 else ''}"
    if meetings:
        what += f" in {meetings} meeting{'s' if meetings != 1 else ''}"
    source = f"sweep {sweep.id}" if sweep is not None else "Zoom events"
    return _render(
        "officer_digest",
        subject=_subject(f"{_prefix(name)} Digest for {source}: {what}"),
        groups=groups,
        omitted=content.total - len(views),
        counts=_category_counts(content.category_counts),
        sweep=sweep,
        sweep_started=format_time(sweep.started_at) if sweep else "",
        sweep_finished=format_time(sweep.finished_at) if sweep else "",
        account_name=name,
        officer=officer,
    )


def render_host_notice(
    host_email: str,
    alerts: Sequence[AlertRecord],
    *,
    officer: str = PRIVACY_OFFICER_DEFAULT,
    redact: Redactor | None = None,
) -> RenderedEmail:
    """Tells a host what zoomguard changed on their meetings and why; never the new passcode."""
    views = [alert_view(a, redact=redact) for a in alerts]
    groups = group_by_meeting(v for v in views if v.changes)
    ids = [g.meeting_id for g in groups if g.meeting_id is not None]
    which = f"your Zoom meeting {ids[0]}" if len(ids) == 1 else f"{len(ids)} of your Zoom meetings"
    return _render(
        "host_notice",
        subject=_subject(f"[zoomguard] Privacy settings changed on {which}"),
        host_email=host_email,
        groups=groups,
        officer=officer,
    )


@dataclass(frozen=True)
class HostNoticePlan:
    host_email: str
    alerts: tuple[AlertRecord, ...] = field(default_factory=tuple)


def host_to_notify(alert: AlertRecord) -> str | None:
    """The host to tell about this alert: only a meeting zoomguard changed, with a host address."""
    if alert.category != cat.MEETING_FIXED:
        return None
    host = _opt_text(alert.details.get("host_email"))
    if host is None or "@" not in host or not alert.details.get("changes"):
        return None
    return host


def host_notices(alerts: Iterable[AlertRecord]) -> list[HostNoticePlan]:
    """Which hosts to tell: one notice per host whose meeting zoomguard changed."""
    by_host: dict[str, list[AlertRecord]] = {}
    spelling: dict[str, str] = {}
    for alert in alerts:
        host = host_to_notify(alert)
        if host is None:
            continue
        spelling.setdefault(host.lower(), host)
        by_host.setdefault(host.lower(), []).append(alert)
    return [HostNoticePlan(spelling[key], tuple(items)) for key, items in sorted(by_host.items())]

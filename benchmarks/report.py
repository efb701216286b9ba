"""Machine facts and the two result files: JSON for tools, a short Markdown table for people.

A run that measures only some benchmarks replaces their entries and keeps the others, so
`python -m benchmarks --only recording` does not erase the sweep's last numbers. Every entry
carries its own date, mode and machine.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.common import Result

PACKAGES = ("zoomguard", "flask", "werkzeug", "waitress", "sqlalchemy", "psycopg", "requests")


def machine_info(pg_version: str | None = None) -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": versions,
        "postgresql": pg_version,
        "load_average_at_start": list(os.getloadavg()),
    }


def entry(
    result: Result, mode: str, machine: dict[str, Any], argv: Sequence[str]
) -> dict[str, Any]:
    return {
        **result.as_dict(),
        "mode": mode,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "-m", "benchmarks", *argv]),
        "machine": machine,
    }


def merge(path: Path, entries: Sequence[dict[str, Any]], order: Sequence[str]) -> dict[str, Any]:
    """The results file with ``entries`` replacing earlier ones of the same name."""
    previous: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            previous = {e["name"]: e for e in loaded.get("results", []) if "name" in e}
        except (ValueError, TypeError, KeyError):
            previous = {}
    for item in entries:
        previous[item["name"]] = item
    ranked = sorted(previous.values(), key=lambda e: (_rank(order, e["name"]), e["name"]))
    return {
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": ranked,
    }


def _rank(order: Sequence[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def markdown(document: dict[str, Any]) -> str:
    lines = [
        "| benchmark | metric | value | target |",
        "| --- | --- | --- | --- |",
    ]
    notes: list[str] = []
    machines: dict[str, list[str]] = {}
    for item in document["results"]:
        first = True
        for row in item["rows"]:
            target = row["target"]
            if row["ok"] is not None and target:
                target = f"{target} {'✅' if row['ok'] else '❌'}"
            label = f"{item['title']} ({item['mode']})" if first else ""
            lines.append(f"| {label} | {row['metric']} | {row['value']} | {target} |")
            first = False
        notes.extend(f"{item['title']}: {note}" for note in item.get("notes", []))
        m = item.get("machine", {})
        described = (
            f"{m.get('cores')} cores ({m.get('cpu_model') or 'unknown CPU'}), "
            f"Python {m.get('python')}"
        )
        machines.setdefault(described, []).append(str(item.get("measured_at", "?")))
    text = "\n".join(lines) + "\n"
    for described, dates in sorted(machines.items()):
        dates.sort()
        when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        text += f"\nMachine: {described}; measured {when}.\n"
    if notes:
        text += "\n" + "\n".join(f"- {note}" for note in notes) + "\n"
    return text


def render(out_dir: Path, stem: str) -> Path:
    """Rewrite the Markdown table from the JSON (after a change to the table's layout)."""
    document = json.loads((out_dir / f"{stem}.json").read_text())
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(markdown(document))
    return md_path


def write(
    out_dir: Path, stem: str, entries: Sequence[dict[str, Any]], order: Sequence[str]
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    md_path = out_dir / f"{stem}.md"
    document = merge(json_path, entries, order)
    json_path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    md_path.write_text(markdown(document))
    return json_path, md_path


DOC_MARKER = "<!-- latest-table -->"


def update_doc(doc: Path, table: str) -> bool:
    """Replace everything after the marker in ``doc`` with ``table``; False without a marker."""
    if not doc.exists():
        return False
    text = doc.read_text()
    head, marker, _ = text.partition(DOC_MARKER)
    if not marker:
        return False
    doc.write_text(head + marker + "\n\n" + table)
    return True

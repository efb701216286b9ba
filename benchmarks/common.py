"""What every benchmark shares: the run context, results, percentiles, scratch databases and the
environment that points zoomguard at a sandbox."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from zoomguard.sandbox import SandboxServer
from zoomguard.store.base import make_engine, normalise_url

DEFAULT_PG_URL = "postgresql+psycopg://zoomguard:zoomguard@127.0.0.1:54329/zoomguard_bench"
BENCH_SECRET_KEY = "zoomguard benchmark passphrase (not a secret)"
# Same data every run: the sweep and the hand-written loop get identical accounts.
SEED = 20240909


@dataclass
class Context:
    """How this run was asked for: size, databases, where scratch files go, how to talk."""

    quick: bool
    workdir: Path
    pg_url: str | None
    log: Callable[[str], None] = field(default=lambda message: print(message, flush=True))
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def scratch(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    metric: str
    value: str
    target: str = ""
    ok: bool | None = None


@dataclass
class Result:
    name: str
    title: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "params": self.params,
            "metrics": self.metrics,
            "rows": [
                {"metric": r.metric, "value": r.value, "target": r.target, "ok": r.ok}
                for r in self.rows
            ],
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; NaN if empty."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    """Seconds as a short millisecond figure for tables."""
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s ({seconds / 60:.1f} min)"


# --- databases -------------------------------------------------------------------------------


def sqlite_url(directory: Path, name: str = "zoomguard.db") -> str:
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()
    return f"sqlite:///{path}"


def reset_postgres(url: str) -> None:
    """Empty the benchmark database (its owner may drop and recreate the public schema)."""
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def postgres_available(url: str | None) -> str | None:
    """None when ``url`` answers; otherwise why not (one line)."""
    if not url:
        return "no PostgreSQL URL given"
    engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        engine.dispose()


def durability(url: str) -> dict[str, str]:
    """The settings that decide whether a commit is on disk before it returns."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
                names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
                return {"journal_mode": str(mode), "synchronous": names.get(int(sync or 0), "?")}
            version = connection.exec_driver_sql("SHOW server_version").scalar()
            commit = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            fsync = connection.exec_driver_sql("SHOW fsync").scalar()
            return {
                "server_version": str(version),
                "synchronous_commit": str(commit),
                "fsync": str(fsync),
            }
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Database:
    label: str  # "sqlite" or "postgresql"
    url: str


def databases(ctx: Context, scratch: Path) -> tuple[list[Database], list[str]]:
    """SQLite always; PostgreSQL when it answers. Each comes back empty. Notes say what was left."""
    found = [Database("sqlite", sqlite_url(scratch))]
    notes: list[str] = []
    problem = postgres_available(ctx.pg_url)
    if problem is None and ctx.pg_url:
        reset_postgres(ctx.pg_url)
        found.append(Database("postgresql", ctx.pg_url))
    else:
        notes.append(f"PostgreSQL skipped: {problem}")
    return found, notes


# --- zoomguard pointed at a sandbox --------------------------------------------------------


def zoomguard_env(sandbox: SandboxServer, database_url: str, **extra: str) -> dict[str, str]:
    """A clean environment that points zoomguard at ``sandbox`` and ``database_url``."""
    return base_env(database_url, **{**sandbox.env(), **extra})


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    """A clean environment for zoomguard: settings only from here, none of the caller's
    ZOOM*, DATABASE_URL, WEB_* or PORT variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ZOOM", "DATABASE_URL", "WEB_", "PORT"))
    }
    env["ZOOMGUARD_DATABASE_URL"] = database_url
    env["ZOOMGUARD_SECRET_KEY"] = BENCH_SECRET_KEY
    env["ZOOMGUARD_LOG_LEVEL"] = "WARNING"
    # The venv's scripts (waitress-serve, zoomguard) first, whoever started us.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


@contextlib.contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """``with timed() as elapsed: ...; elapsed()`` in seconds (monotonic)."""
    start = time.monotonic()
    end: list[float] = []
    try:
        yield lambda: (end[0] if end else time.monotonic()) - start
    finally:
        end.append(time.monotonic())


def count_by(records: Sequence[Any], key: Callable[[Any], str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        name = key(record)
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def rounded(values: Mapping[str, float], digits: int = 4) -> dict[str, float]:
    return {k: round(v, digits) for k, v in values.items()}

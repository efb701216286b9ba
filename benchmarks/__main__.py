"""`python -m benchmarks [--quick] [--only NAME ...]`: run the benchmarks and write the results.

Full-size results go to benchmarks/results/latest.{json,md}; --quick results go to
quick.{json,md} beside them, so a quick iteration never replaces the published numbers.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import ingest, memory, pacing, recording, signin_flood, sweep
from benchmarks.common import DEFAULT_PG_URL, Context, Result, durability, postgres_available
from benchmarks.report import entry, machine_info, update_doc, write

BENCHMARKS: dict[str, Callable[[Context], Result]] = {
    sweep.NAME: sweep.run,
    pacing.NAME: pacing.run,
    ingest.NAME: ingest.run,
    signin_flood.NAME: signin_flood.run,
    recording.NAME: recording.run,
    memory.NAME: memory.run,
}
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run zoomguard's benchmarks against the sandbox on loopback.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        help="run only this benchmark (repeatable); default: all",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for iteration (results go to quick.json/quick.md)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ZOOMGUARD_BENCH_POSTGRES_URL", DEFAULT_PG_URL),
        help="an empty PostgreSQL database the benchmarks may wipe "
        "(default: $ZOOMGUARD_BENCH_POSTGRES_URL or %(default)s); '' to skip PostgreSQL",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    parser.add_argument(
        "--skip-loop", action="store_true", help="sweep: do not run the sequential loop"
    )
    parser.add_argument(
        "--loop-limit-minutes",
        type=float,
        default=sweep.LOOP_LIMIT_SECONDS / 60,
        help="sweep: extrapolate the sequential loop when it would take longer (default 20)",
    )
    parser.add_argument(
        "--ingest-seconds", type=float, help="ingest: seconds of each closed-loop throughput run"
    )
    parser.add_argument(
        "--ingest-runs", type=int, help="ingest: runs per database (default 3, --quick 1)"
    )
    parser.add_argument(
        "--web-threads",
        type=int,
        help="ingest: the web process's threads (WEB_THREADS); default: the Procfile's",
    )
    parser.add_argument(
        "--worker-poll", type=float, help="recording: the worker's idle poll interval (seconds)"
    )
    parser.add_argument(
        "--child-python",
        help="pacing: the Python that runs `zoomguard sweep` (another checkout's environment, "
        "to compare before and after)",
    )
    parser.add_argument(
        "--pacing-case",
        action="append",
        help="pacing: run only these cases, LATENCY:MEETINGS:SHARE[:competing] (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names = args.only or list(BENCHMARKS)
    pg_url = args.pg_url or None
    pg_version = None
    if pg_url and postgres_available(pg_url) is None:
        pg_version = durability(pg_url).get("server_version")
    machine = machine_info(pg_version)
    workdir = Path(tempfile.mkdtemp(prefix="zoomguard-bench-"))
    options = {
        "skip_loop": args.skip_loop,
        "loop_limit_seconds": args.loop_limit_minutes * 60,
        "ingest_seconds": args.ingest_seconds,
        "ingest_runs": args.ingest_runs,
        "worker_poll": args.worker_poll,
        "web_threads": args.web_threads,
        "child_python": args.child_python,
        "pacing_cases": args.pacing_case,
    }
    ctx = Context(quick=args.quick, workdir=workdir, pg_url=pg_url, options=options)
    ctx.log(
        f"zoomguard benchmarks ({ctx.mode}): {', '.join(names)}; {machine['cores']} cores, "
        f"Python {machine['python']}; scratch {workdir}"
    )
    entries = []
    failures = 0
    for name in names:
        ctx.log(f"== {name}")
        started = time.monotonic()
        try:
            result = BENCHMARKS[name](ctx)
        except Exception:
            failures += 1
            ctx.log(f"{name} failed:\n{traceback.format_exc()}")
            continue
        result.seconds = time.monotonic() - started
        for row in result.rows:
            mark = "" if row.ok is None else (" [ok]" if row.ok else " [MISSED]")
            target = f"  (target {row.target}){mark}" if row.target else ""
            ctx.log(f"  {row.metric}: {row.value}{target}")
        entries.append(entry(result, ctx.mode, machine, argv))
    if entries:
        stem = "quick" if args.quick else "latest"
        json_path, md_path = write(args.out, stem, entries, list(BENCHMARKS))
        ctx.log(f"wrote {json_path} and {md_path}")
        if stem == "latest" and args.out == RESULTS_DIR and update_doc(DOC, md_path.read_text()):
            ctx.log(f"updated the table in {DOC}")
    if not args.keep:
        _remove_tree(workdir)
    return 1 if failures else 0


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""`python -m benchmarks.identifying`: how well and how fast identifying information is found.

Scores ``zoomguard.rules.identifying.find_identifying`` on the labelled meeting topics in
tests/data/identifying_topics.jsonl (precision and recall per kind, micro-averaged overall), then
times it in topics per second next to the check zoomguard had before (SINs and labelled birth
dates only) on the same topics in the same run. Writes benchmarks/results/identifying.md.

A topic counts once per kind: a kind found in a topic labelled with it is a true positive, found
in a topic not labelled with it a false positive, missed in a topic labelled with it a false
negative. Where a match sits inside the topic is checked by the tests, not here.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zoomguard.rules.identifying import KINDS, find_identifying
from zoomguard.rules.identifying.birthdate import find_birth_dates
from zoomguard.rules.identifying.names import name_lists
from zoomguard.rules.identifying.sin import find_sins

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "data" / "identifying_topics.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "identifying.md"

# What issue #15 asks of the detectors on the labelled set.
RECALL_TARGETS = {
    "sin": 0.95,
    "birth_date": 0.95,
    "phn": 0.95,
    "postal_code": 0.95,
    "full_name": 0.85,
}
PRECISION_TARGET = 0.9


@dataclass(frozen=True)
class LabelledTopic:
    text: str
    lang: str
    expected: frozenset[str]


@dataclass
class KindScore:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else 1.0


@dataclass
class Scores:
    by_kind: dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in KINDS})
    # (kind, "missed" or "wrongly found", text) for the report
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def overall(self) -> KindScore:
        total = KindScore()
        for score in self.by_kind.values():
            total.true_positives += score.true_positives
            total.false_positives += score.false_positives
            total.false_negatives += score.false_negatives
        return total


def load_labelled(path: Path = LABELLED) -> list[LabelledTopic]:
    topics = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            topics.append(LabelledTopic(row["text"], row["lang"], frozenset(row["expected"])))
    return topics


def score(topics: Sequence[LabelledTopic]) -> Scores:
    scores = Scores()
    for topic in topics:
        found = {match.kind for match in find_identifying(topic.text)}
        for kind in KINDS:
            tally = scores.by_kind[kind]
            if kind in found and kind in topic.expected:
                tally.true_positives += 1
            elif kind in found:
                tally.false_positives += 1
                scores.errors.append((kind, "wrongly found", topic.text))
            elif kind in topic.expected:
                tally.false_negatives += 1
                scores.errors.append((kind, "missed", topic.text))
    return scores


def _sin_and_birth_date_only(text: str) -> object:
    """The check zoomguard had before issue #15, as the speed reference."""
    return find_birth_dates(text), find_sins(text)


def topics_per_second(
    check: Callable[[str], object], texts: Sequence[str], min_seconds: float
) -> float:
    """Best of three runs, each repeating the topics until ``min_seconds`` have passed."""
    best = 0.0
    for _ in range(3):
        checked = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < min_seconds:
            for text in texts:
                check(text)
            checked += len(texts)
        best = max(best, checked / elapsed)
    return best


def measure(min_seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    name_lists()  # built once per process, on the first topic: timed on its own
    lists_seconds = time.perf_counter() - started
    topics = load_labelled()
    texts = [topic.text for topic in topics]
    return {
        "topics": topics,
        "scores": score(topics),
        "lists_seconds": lists_seconds,
        "speed": topics_per_second(find_identifying, texts, min_seconds),
        "reference_speed": topics_per_second(_sin_and_birth_date_only, texts, min_seconds),
    }


def render(result: dict[str, Any], command: str) -> str:
    topics: list[LabelledTopic] = result["topics"]
    scores: Scores = result["scores"]
    labelled = {kind: sum(kind in t.expected for t in topics) for kind in KINDS}
    languages = {lang: sum(t.lang == lang for t in topics) for lang in ("en", "fr")}
    lines = [
        "# Identifying information: precision, recall and speed",
        "",
        f"{len(topics)} labelled meeting topics (tests/data/identifying_topics.jsonl: "
        f"{languages['en']} English, {languages['fr']} French, "
        f"{sum(not t.expected for t in topics)} without identifying information, many of them "
        "hard negatives).",
        "",
        "| kind | topics labelled | precision | recall | recall target |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind in KINDS:
        tally = scores.by_kind[kind]
        target = RECALL_TARGETS.get(kind)
        lines.append(
            f"| {kind} | {labelled[kind]} | {tally.precision:.3f} | {tally.recall:.3f} | "
            f"{f'>= {target:.2f}' if target else '-'} |"
        )
    overall = scores.overall
    lines += [
        f"| **overall** | {sum(labelled.values())} | **{overall.precision:.3f}** | "
        f"**{overall.recall:.3f}** | precision >= {PRECISION_TARGET:.2f} |",
        "",
        f"Speed: **{result['speed']:,.0f} topics/s** with every detector, against "
        f"{result['reference_speed']:,.0f} topics/s for the SIN and birth-date check alone "
        "(same topics, same run, one thread, best of three). Faker's name lists are built once "
        f"per process, on the first topic: {result['lists_seconds'] * 1000:,.0f} ms here, "
        "mostly importing Faker.",
        "",
        "Errors on the labelled set:",
        "",
    ]
    lines += [f"- {kind}, {how}: `{text}`" for kind, how, text in scores.errors] or ["- none"]
    lines += [
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()} (`{command}`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.identifying")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per run (default 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the Markdown report")
    args = parser.parse_args(argv)
    report = render(measure(args.seconds), "python -m benchmarks.identifying")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()

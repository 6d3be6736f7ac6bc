"""Compare ipamcore with the baselines on every workload, side by side.

Usage::

    python -m benchmarks.compare [--quick] [--json FILE] [--plot FILE.png]
        [--markdown FILE] [--readme README.md] [--workloads W1,W2,...]
        [--implementations A,B,...]
        [--rounds N] [--budget SECONDS] [--no-memory] [--load FILE]

Each workload runs on ipamcore, on every baseline that can hold its bitmap
and on the floor, round by round, the order of implementations rotating
every round so that drift of the machine hits all of them alike.  A timed
loop that has not finished within the budget is stopped and reported as
"over N s"; that implementation then sits out the workload's later rounds.
The cyclic garbage collector is off while a loop is timed.  After timing,
memory is measured in a fresh process per implementation for the last
workload of each id (see `benchmarks.memory`), two processes at a time;
``--quick`` measures only the rows that memory targets are judged on, and
not the floor.

``--load`` renders a saved ``--json`` run again (table, targets, markdown,
plot) without running anything.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from time import perf_counter
from typing import Any

from rich.console import Console

from benchmarks import report
from benchmarks.implementations import IPAMCORE, Implementation, implementations
from benchmarks.workloads import BATCH, SCALE, SEED, Trial, Workload, select

ROOT = Path(__file__).resolve().parent.parent

Record = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """How hard a comparison run measures."""

    quick: bool
    rounds: int
    budget: float
    memory: bool


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds, 1 s budget")
    parser.add_argument("--json", type=Path, help="save every figure to this file")
    parser.add_argument("--plot", type=Path, help="draw workload S to this PNG")
    parser.add_argument("--markdown", type=Path, help="write the table as markdown")
    parser.add_argument(
        "--readme", type=Path, help="put the tables into this file's figures block"
    )
    parser.add_argument("--workloads", help="comma-separated ids, e.g. W1,W7,S,I2")
    parser.add_argument("--implementations", help="comma-separated names")
    parser.add_argument("--rounds", type=int, help="rounds per workload")
    parser.add_argument("--budget", type=float, help="seconds per timed loop")
    parser.add_argument("--no-memory", action="store_true", help="skip memory")
    parser.add_argument("--load", type=Path, help="render a saved --json run")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """Defaults of the quick and the full run, overridden by the options."""
    rounds, budget = (3, 1.0) if args.quick else (5, 10.0)
    return Settings(
        quick=args.quick,
        rounds=args.rounds or rounds,
        budget=args.budget or budget,
        memory=not args.no_memory,
    )


def chosen_implementations(names: str | None) -> list[Implementation]:
    """The implementations named on the command line (default: all)."""
    every = implementations()
    if names is None:
        return every
    wanted = {name.strip() for name in names.split(",")}
    unknown = wanted - {impl.name for impl in every}
    if unknown:
        raise SystemExit(f"unknown implementations: {', '.join(sorted(unknown))}")
    return [impl for impl in every if impl.name in wanted]


# -- timing ----------------------------------------------------------------


def new_record(workload: Workload, impl: Implementation) -> Record:
    """An empty result row for one workload and implementation."""
    status = "ok" if workload.bits <= impl.max_bits else "cannot hold"
    return {
        "key": workload.key,
        "workload": workload.name,
        "label": workload.label,
        "unit": workload.unit,
        "level": workload.level,
        "bits": workload.bits,
        "runs": workload.runs,
        "implementation": impl.name,
        "status": status,
        "ops": None,
        "samples_ns": [],
        "runs_after": None,
        "memory": None,
        "error": None,
    }


def rotated(items: list[Implementation], turn: int) -> list[Implementation]:
    """``items`` starting at position ``turn`` (mod its length)."""
    if not items:
        return []
    turn %= len(items)
    return items[turn:] + items[:turn]


def time_once(
    workload: Workload, impl: Implementation, budget: float
) -> tuple[Trial, int, float]:
    """Prepare and time one run; return the trial, operations done, seconds."""
    trial = workload.prepare(impl.factory(workload.level))
    gc.collect()
    gc.disable()
    try:
        start = perf_counter()
        done = trial.run(start + budget)
        elapsed = perf_counter() - start
    finally:
        gc.enable()
    return trial, done, elapsed


def record_round(
    record: Record, impl: Implementation, trial: Trial, done: int, elapsed: float
) -> None:
    """Add one timed run to its row; check the subject after the first one."""
    record["ops"] = trial.ops
    if done < trial.ops:
        record["status"] = "over"
        return
    record["samples_ns"].append(elapsed * 1e9 / done)
    if len(record["samples_ns"]) > 1 or not impl.real:
        return
    trial.check()
    if impl is IPAMCORE and record["level"] == "bitmap":
        record["runs_after"] = trial.subject.runs


def run_workload(
    workload: Workload, impls: list[Implementation], settings: Settings
) -> list[Record]:
    """Time one workload on every implementation, rotating the order."""
    impls = [impl for impl in impls if impl.offers(workload.level)]
    records = {impl.name: new_record(workload, impl) for impl in impls}
    for turn in range(settings.rounds):
        for impl in rotated(impls, turn):
            record = records[impl.name]
            if record["status"] != "ok":
                continue
            try:
                trial, done, elapsed = time_once(workload, impl, settings.budget)
                record_round(record, impl, trial, done, elapsed)
            except Exception as exc:  # a failing implementation is reported
                record["status"], record["error"] = "failed", repr(exc)
    return [summarised(record, settings.budget) for record in records.values()]


def summarised(record: Record, budget: float) -> Record:
    """Add median, min and max (ns per operation) and the budget to a row."""
    samples = record["samples_ns"]
    record["budget_s"] = budget
    record["median_ns"] = median(samples) if samples else None
    record["min_ns"] = min(samples) if samples else None
    record["max_ns"] = max(samples) if samples else None
    return record


# -- memory ----------------------------------------------------------------


def memory_rows(workloads: list[Workload]) -> set[str]:
    """Names of the workloads whose memory is measured: the last of each id."""
    last: dict[str, str] = {}
    for workload in workloads:
        last[workload.key] = workload.name
    return set(last.values())


def measure_memory(record: Record, budget: float) -> None:
    """Run `benchmarks.memory` in a fresh process and store its figures."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.memory",
        record["workload"],
        record["implementation"],
        str(budget),
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=budget * 6 + 120
    )
    if done.returncode == 0:
        record["memory"] = json.loads(done.stdout)
    else:
        record["memory"] = {"error": done.stderr.strip().splitlines()[-1:]}


def measure_all_memory(
    records: Iterable[Record], names: set[str], settings: Settings
) -> None:
    """Measure memory for the chosen rows, two processes at a time."""
    chosen = [
        r
        for r in records
        if r["workload"] in names
        and r["status"] in ("ok", "over")
        and not (settings.quick and r["implementation"] == "floor")
    ]
    budget = settings.budget
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda record: measure_memory(record, budget), chosen))


# -- the run -----------------------------------------------------------------


def run(
    workloads: list[Workload],
    impls: list[Implementation],
    settings: Settings,
    console: Console,
) -> list[Record]:
    """Time every workload, then measure memory; return every row."""
    records: list[Record] = []
    for workload in workloads:
        started = perf_counter()
        rows = run_workload(workload, impls, settings)
        records += rows
        console.log(f"{workload.label}: {perf_counter() - started:.1f} s")
    if settings.memory:
        started = perf_counter()
        names = memory_rows(workloads)
        if settings.quick:
            names &= set(report.MEMORY_LEADS.values())
        measure_all_memory(records, names, settings)
        console.log(f"memory: {perf_counter() - started:.1f} s")
    return records


def document(
    records: list[Record], settings: Settings, load_before: tuple[float, ...]
) -> dict[str, Any]:
    """Everything a saved run holds: when, where, how, and the figures."""
    return {
        "date": report.now(),
        "machine": report.machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "settings": {
            **asdict(settings),
            "batch": BATCH,
            "seed": SEED,
            "scale": SCALE,
        },
        "memory_method": report.MEMORY_METHOD,
        "results": records,
        "targets": [asdict(target) for target in report.targets(records)],
    }


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, or to standard output for ``-``."""
    if str(path) == "-":
        sys.stdout.write(text)
    else:
        path.write_text(text)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    if args.load:
        saved = json.loads(args.load.read_text())
    else:
        settings = settings_from(args)
        workloads = select(args.workloads.split(",") if args.workloads else None)
        impls = chosen_implementations(args.implementations)
        load_before = os.getloadavg()
        records = run(workloads, impls, settings, console)
        saved = document(records, settings, load_before)
    report.show(saved, console)
    if args.json and not args.load:
        args.json.write_text(json.dumps(saved, indent=1) + "\n")
    if args.markdown:
        write_text(args.markdown, report.markdown(saved))
    if args.readme:
        args.readme.write_text(report.spliced(args.readme.read_text(), saved))
    if args.plot:
        from benchmarks.plot import plot_scaling

        plot_scaling(saved["results"], args.plot)


if __name__ == "__main__":
    main()

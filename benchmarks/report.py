"""Tables, targets and machine facts for the comparison runner.

Everything here works on the plain rows that ``benchmarks.compare`` saves as
JSON, so a saved run renders exactly like a fresh one.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["MEMORY_METHOD", "Target", "machine", "markdown", "now", "show", "targets"]

Record = dict[str, Any]

MEMORY_METHOD = (
    "fresh process per implementation and workload; plan drawn first; "
    "held = RSS after the run minus RSS before building the subject "
    "(/proc/self/statm); peak = ru_maxrss minus that RSS when the run raised "
    "the high-water mark, else held"
)
COLUMNS = (
    "workload",
    "implementation",
    "median ns",
    "min ns",
    "max ns",
    "vs ipamcore",
    "total s",
    "peak memory",
    "runs after",
)


def now() -> str:
    """The current UTC time in ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo``, or the platform's guess."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Facts about the machine a run was taken on."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


# -- formatting ------------------------------------------------------------


def nanoseconds(value: float | None) -> str:
    """A per-operation time for a table cell."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def size(value: int | None) -> str:
    """A byte count for a table cell."""
    if value is None:
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"


def bit_count(bits: int) -> str:
    """A bitmap size, as a power of two where it is one."""
    if bits > 1 and bits & (bits - 1) == 0:
        return f"2**{bits.bit_length() - 1}"
    return f"{bits:,}"


def reference(records: list[Record], row: Record) -> Record | None:
    """The ipamcore row of the same workload as ``row``."""
    return next(
        (
            r
            for r in records
            if r["workload"] == row["workload"] and r["implementation"] == "ipamcore"
        ),
        None,
    )


def ratio(records: list[Record], row: Record) -> str:
    """``row``'s median over ipamcore's, or a lower bound when over budget."""
    base = reference(records, row)
    if base is None or base.get("median_ns") is None or row is base:
        return "-"
    if row["status"] == "over" and row["ops"]:
        bound = row["budget_s"] * 1e9 / row["ops"]
        return f"> {bound / base['median_ns']:.1f}x"
    if row.get("median_ns") is None:
        return "-"
    return f"{row['median_ns'] / base['median_ns']:.2f}x"


def status_cells(row: Record) -> list[str] | None:
    """Cells replacing the timings of a row that has none."""
    if row["status"] == "over":
        return [f"over {row['budget_s']:g} s", "", ""]
    if row["status"] == "cannot hold":
        return [f"cannot hold {bit_count(row['bits'])} bits", "", ""]
    if row["status"] == "failed":
        return ["failed", str(row["error"])[:60], ""]
    return None


def cells(records: list[Record], row: Record) -> list[str]:
    """The table cells of one row."""
    timings = status_cells(row) or [
        nanoseconds(row["median_ns"]),
        nanoseconds(row["min_ns"]),
        nanoseconds(row["max_ns"]),
    ]
    total = "-"
    if row.get("median_ns") is not None and row["ops"]:
        total = f"{row['median_ns'] * row['ops'] / 1e9:.3f}"
    memory = row.get("memory") or {}
    peak = size(memory.get("peak"))
    if memory.get("completed") is False:
        peak += " (partial)"
    runs = row.get("runs_after")
    return [
        row["label"],
        row["implementation"],
        *timings,
        ratio(records, row),
        total,
        peak,
        "-" if runs is None else f"{runs:,}",
    ]


def grouped(records: list[Record]) -> list[list[Record]]:
    """Rows grouped by workload, in run order."""
    groups: dict[str, list[Record]] = {}
    for row in records:
        groups.setdefault(row["workload"], []).append(row)
    return list(groups.values())


def caption(saved: dict[str, Any]) -> str:
    """One line on how and where a run was taken."""
    settings, machine = saved["settings"], saved["machine"]
    text = (
        f"{settings['rounds']} rounds, budget {settings['budget']:g} s per loop, "
        f"{machine['cpu']} x{machine['cores']}, Python {machine['python']}"
    )
    load = saved.get("load_average")
    if load:
        text += f", load {load['before'][0]:.2f} -> {load['after'][0]:.2f}"
    return text


FIGURES_START = "<!-- figures -->"
FIGURES_END = "<!-- /figures -->"


def spliced(document: str, saved: dict[str, Any]) -> str:
    """``document`` with its figures block replaced by a saved run's tables.

    The block lies between the `FIGURES_START` and `FIGURES_END` lines; a
    document with only the start line gets the end line added.

    Raises:
        ValueError: The document has no figures block.
    """
    head, found, rest = document.partition(FIGURES_START)
    if not found:
        raise ValueError(f"no {FIGURES_START} line to put the figures at")
    _, found, tail = rest.partition(FIGURES_END)
    if not found:
        tail = rest
    body = f"Measured {saved['date']}.\n\n{markdown(saved).rstrip()}\n"
    return f"{head}{FIGURES_START}\n{body}{FIGURES_END}{tail}"


def table(saved: dict[str, Any]) -> Table:
    """The comparison as a rich table."""
    records = saved["results"]
    out = Table(
        title="ipamcore against the baselines (ns per operation or iteration)",
        caption=caption(saved),
    )
    for column in COLUMNS:
        out.add_column(column, justify="left" if column[0] in "wi" else "right")
    for group in grouped(records):
        for row in group:
            out.add_row(*cells(records, row))
        out.add_section()
    return out


def markdown(saved: dict[str, Any]) -> str:
    """The comparison and the targets as markdown tables."""
    records = saved["results"]
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(" --- " for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(cells(records, row)) + " |" for row in records]
    lines += ["", caption(saved), "", *summary(records)]
    lines += ["", "| target | measured | met |", "| --- | --- | --- |"]
    for target in targets(records):
        lines.append(f"| {target.name} | {target.measured} | {verdict(target)} |")
    return "\n".join(lines) + "\n"


# -- targets ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One performance target and whether a run met it."""

    name: str
    measured: str
    met: bool | None


def verdict(target: Target) -> str:
    """``met``, ``MISSED`` or ``not measured``."""
    return {True: "met", False: "MISSED", None: "not measured"}[target.met]


def rows_of(records: list[Record], workload: str) -> list[Record]:
    """The rows of one workload."""
    return [r for r in records if r["workload"] == workload]


def figure(
    records: list[Record], workload: str, impl: str = "ipamcore"
) -> float | None:
    """The median ns of one workload on one implementation, if measured."""
    row = next(
        (r for r in rows_of(records, workload) if r["implementation"] == impl), None
    )
    return None if row is None else row.get("median_ns")


def baseline_rows(records: list[Record], workload: str) -> list[Record]:
    """The rows of real baselines (not ipamcore, not the floor) that ran."""
    return [
        r
        for r in rows_of(records, workload)
        if r["implementation"] not in ("ipamcore", "floor")
        and r["status"] in ("ok", "over")
    ]


def speed_lead(records: list[Record], workload: str, label: str) -> Target:
    """ipamcore faster than every baseline that ran the workload."""
    mine, others = figure(records, workload), baseline_rows(records, workload)
    if mine is None or not others:
        return Target(label, "-", None)
    timed = [r for r in others if r["status"] == "ok"]
    best = min(timed, key=lambda r: r["median_ns"]) if timed else None
    if best is None:
        return Target(label, f"{mine:,.0f} ns; every baseline over budget", True)
    lead = best["median_ns"] / mine
    text = f"{mine:,.0f} ns vs {best['implementation']} {best['median_ns']:,.0f} ns"
    return Target(label, f"{text} ({lead:.2f}x)", lead > 1)


def memory_lead(records: list[Record], workload: str, label: str) -> Target:
    """ipamcore's peak memory below every baseline's on the workload."""
    peaks = {
        r["implementation"]: (r.get("memory") or {}).get("peak")
        for r in rows_of(records, workload)
        if r["implementation"] != "floor"
    }
    mine = peaks.pop("ipamcore", None)
    others = {name: peak for name, peak in peaks.items() if peak is not None}
    if mine is None or not others:
        return Target(label, "-", None)
    name, least = min(others.items(), key=lambda item: item[1])
    text = f"{size(mine)} vs {name} {size(least)}"
    return Target(label, text, mine < least)


def within(records: list[Record], workload: str, factor: float, label: str) -> Target:
    """ipamcore within ``factor`` of the fastest baseline."""
    mine = figure(records, workload)
    timed = [r for r in baseline_rows(records, workload) if r["status"] == "ok"]
    if mine is None or not timed:
        return Target(label, "-", None)
    best = min(timed, key=lambda r: r["median_ns"])
    share = mine / best["median_ns"]
    text = f"{share:.2f}x of {best['implementation']} ({best['median_ns']:,.0f} ns)"
    return Target(label, text, share <= factor)


def at_most(records: list[Record], workload: str, limit: float, label: str) -> Target:
    """ipamcore's median at most ``limit`` ns."""
    mine = figure(records, workload)
    if mine is None:
        return Target(label, "-", None)
    return Target(label, f"{mine:,.0f} ns ({mine / limit:.0%} of limit)", mine <= limit)


def scaling_ratios(records: list[Record]) -> dict[str, float]:
    """Per implementation: S cost at the most runs over the cost at the fewest."""
    rows = [r for r in records if r["key"] == "S" and r.get("median_ns")]
    ratios: dict[str, float] = {}
    for impl in {r["implementation"] for r in rows}:
        mine = sorted(
            (r["runs"], r["median_ns"]) for r in rows if r["implementation"] == impl
        )
        if len(mine) > 1:
            ratios[impl] = mine[-1][1] / mine[0][1]
    return ratios


def scaling_target(records: list[Record]) -> Target:
    """ipamcore's S ratio (cost at R=10^6 over R=10) at most 2."""
    label = "S ratio R=10^6 / R=10 <= 2"
    ratio = scaling_ratios(records).get("ipamcore")
    if ratio is None:
        return Target(label, "-", None)
    return Target(label, f"{ratio:.2f}", ratio <= 2)


def pools_target(records: list[Record]) -> Target:
    """I3 in under 2 s in total."""
    label = "I3 total < 2 s"
    row = next(
        (
            r
            for r in rows_of(records, "request_pool_pools")
            if r["implementation"] == "ipamcore"
        ),
        None,
    )
    if row is None or row.get("median_ns") is None:
        return Target(label, "-", None)
    total = row["median_ns"] * row["ops"] / 1e9
    per_call = row["median_ns"] / 1e3
    return Target(label, f"{total:.3f} s ({per_call:.1f} us per call)", total < 2)


SPEED_LEADS = {
    "W2": "unset_set_any_churn16",
    "W3": "unset_set_any_serial_serialchurn16",
    "W6": "unset_set_any_in_range_rangechurn16",
    "W7": "unset_set_any_fragmented20",
    "S R=10^6": "unset_set_any_scaling_1000000",
}
MEMORY_LEADS = {
    "W2": "unset_set_any_churn16",
    "W3": "unset_set_any_serial_serialchurn16",
    "W7": "unset_set_any_fragmented20",
    "S R=10^6": "unset_set_any_scaling_1000000",
}


def targets(records: list[Record]) -> list[Target]:
    """Every target of the brief, evaluated on a run's rows."""
    found = [
        speed_lead(records, workload, f"{key}: ahead of every baseline")
        for key, workload in SPEED_LEADS.items()
    ]
    found += [
        memory_lead(records, workload, f"{key}: less memory than every baseline")
        for key, workload in MEMORY_LEADS.items()
    ]
    return [
        *found,
        within(records, "set_any_fill16", 1.5, "W1: within 1.5x of fastest baseline"),
        within(records, "set_any_fill8", 1.5, "W4: within 1.5x of fastest baseline"),
        at_most(records, "set_any_fill16", 150, "W1 set_any <= 150 ns"),
        at_most(records, "unset_set_any_churn16", 400, "W2 iteration <= 400 ns"),
        at_most(records, "unset_set_any_fragmented20", 500, "W7 iteration <= 500 ns"),
        scaling_target(records),
        at_most(records, "release_request_churn", 3000, "I2 iteration <= 3 us"),
        pools_target(records),
    ]


def targets_table(found: Iterable[Target]) -> Table:
    """The targets as a rich table."""
    out = Table(title="Targets")
    for column in ("target", "measured", "met"):
        out.add_column(column)
    for target in found:
        style = {True: "green", False: "bold red", None: "dim"}[target.met]
        out.add_row(target.name, target.measured, verdict(target), style=style)
    return out


def bytes_per_run(records: list[Record]) -> dict[str, float]:
    """Per implementation: peak memory of S at the most runs, per run."""
    rows = [
        r for r in records if r["key"] == "S" and (r.get("memory") or {}).get("peak")
    ]
    if not rows:
        return {}
    most = max(r["runs"] for r in rows)
    return {
        r["implementation"]: r["memory"]["peak"] / most
        for r in rows
        if r["runs"] == most
    }


def summary(records: list[Record]) -> list[str]:
    """Lines under the table: S ratios and memory per run."""
    lines = []
    ratios = scaling_ratios(records)
    if ratios:
        text = ", ".join(
            f"{name} {value:.2f}" for name, value in sorted(ratios.items())
        )
        lines.append(f"S ratio (cost at the most runs / at the fewest): {text}")
    per_run = bytes_per_run(records)
    if per_run:
        text = ", ".join(
            f"{name} {value:.1f}" for name, value in sorted(per_run.items())
        )
        lines.append(f"S peak memory per run at the most runs, bytes: {text}")
    return lines


def show(saved: dict[str, Any], console: Console) -> None:
    """Print the comparison table, the summary lines and the targets."""
    console.print(table(saved))
    for line in summary(saved["results"]):
        console.print(line)
    console.print(targets_table(targets(saved["results"])))

"""Draw workload S: cost per iteration against the number of runs, log-log.

matplotlib is an optional extra (``pip install 'ipamcore[plot]'``) and is
imported only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_scaling"]


def load_pyplot() -> Any:
    """Import matplotlib's pyplot on a file-only backend, or explain how."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit(
            "--plot needs matplotlib: pip install 'ipamcore[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def series(records: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Per implementation, the (runs, median ns) points of workload S."""
    points: dict[str, list[tuple[int, float]]] = {}
    for row in records:
        if row["key"] == "S" and row.get("median_ns"):
            points.setdefault(row["implementation"], []).append(
                (row["runs"], row["median_ns"])
            )
    return {name: sorted(values) for name, values in points.items()}


def lower_bounds(records: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Per implementation, (runs, least possible ns) of S rows over budget."""
    points: dict[str, list[tuple[int, float]]] = {}
    for row in records:
        if row["key"] == "S" and row["status"] == "over" and row["ops"]:
            bound = row["budget_s"] * 1e9 / row["ops"]
            points.setdefault(row["implementation"], []).append((row["runs"], bound))
    return points


def plot_scaling(records: list[dict[str, Any]], path: Path) -> None:
    """Save the S scaling plot of a run's rows to ``path`` (PNG).

    Each implementation is a line of medians; where it ran over its budget,
    an open triangle marks the least it can have cost per iteration.
    """
    pyplot = load_pyplot()
    figure, axes = pyplot.subplots(figsize=(8.5, 4.5))
    bounds = lower_bounds(records)
    for name, points in series(records).items():
        runs, cost = zip(*points, strict=True)
        style = "--" if name == "floor" else "-o"
        (line,) = axes.plot(runs, cost, style, label=name)
        if name in bounds:
            runs, cost = zip(*bounds[name], strict=True)
            axes.plot(runs, cost, "^", color=line.get_color(), fillstyle="none")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("runs in the bitmap (R)")
    axes.set_ylabel("ns per iteration (unset + set_any)")
    axes.set_title("Workload S: cost per iteration against the number of runs")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.text(0.01, 0.01, "open triangles: over budget; the cost is at least this")
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    figure.savefig(path, dpi=120)
    pyplot.close(figure)

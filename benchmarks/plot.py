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


def plot_scaling(records: list[dict[str, Any]], path: Path) -> None:
    """Save the S scaling plot of a run's rows to ``path`` (PNG)."""
    pyplot = load_pyplot()
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for name, points in series(records).items():
        runs, cost = zip(*points, strict=True)
        style = "--" if name == "floor" else "-o"
        axes.plot(runs, cost, style, label=name)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("runs in the bitmap (R)")
    axes.set_ylabel("ns per iteration (unset + set_any)")
    axes.set_title("Workload S: cost per iteration against the number of runs")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)

"""The benchmark report: putting a saved run's tables into the README."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import report

SAVED = json.loads(
    (Path(__file__).parent.parent / "benchmarks/results.json").read_text()
)


def test_spliced_replaces_only_the_figures_block() -> None:
    document = "# Title\n\n<!-- figures -->\nold table\n<!-- /figures -->\n\nAfter.\n"
    once = report.spliced(document, SAVED)
    head, _, rest = once.partition("<!-- figures -->\n")
    body, _, tail = rest.partition("<!-- /figures -->")
    assert head == "# Title\n\n"
    assert tail == "\n\nAfter.\n"
    assert body.startswith(f"Measured {SAVED['date']}.\n\n| workload |")
    assert "old table" not in body
    assert report.spliced(once, SAVED) == once


def test_spliced_adds_a_missing_end_line_and_keeps_the_rest() -> None:
    spliced = report.spliced("A\n<!-- figures -->\nB\n", SAVED)
    assert spliced.startswith("A\n<!-- figures -->\nMeasured ")
    assert spliced.endswith("<!-- /figures -->\nB\n")


def test_spliced_needs_a_figures_line() -> None:
    with pytest.raises(ValueError, match="no <!-- figures --> line"):
        report.spliced("no block here\n", SAVED)

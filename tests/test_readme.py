"""The examples of README.md run, and the commands it gives are the CI's."""

from __future__ import annotations

import doctest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_readme_examples_run() -> None:
    result = doctest.testfile(
        str(README),
        module_relative=False,
        optionflags=doctest.ELLIPSIS,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted >= 20
    assert result.failed == 0


def test_readme_gives_the_commands_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = README.read_text()
    for command in [
        "pip install . && ipamcore simulate",
        "pip install -e '.[test]' && pytest",
    ]:
        assert f"\n{command}\n" in readme
        assert f'"{command}"' in ci

"""Benchmarks of ipamcore: workloads, baselines and the comparison runner.

Nothing here is collected by the default ``pytest`` run (its ``testpaths``
is ``tests``), and no benchmark asserts a time: the machines are shared and
noisy, so tests check correctness and these modules only measure.

Modules:

- ``workloads``: the workloads W1-W7, S and I1-I4, each a function whose
  docstring says what it does, defined once and shared by every runner;
- ``baselines``: small allocators on ``set``, ``bitarray`` and ``pyroaring``
  (checked against the reference model by ``tests/test_baselines.py``);
- ``implementations``: ipamcore, the baselines and the interpreter floor;
- ``compare``, ``report``, ``memory``, ``plot``: the comparison runner;
- ``test_bitmap_bench`` and ``test_allocator_bench``: pytest-benchmark
  suites of ipamcore alone.

How to run (from the repository root, with the ``test`` extra installed, and
``plot`` for ``--plot``)::

    # pytest-benchmark suites, a few minutes; figures saved as JSON
    pytest benchmarks/ --benchmark-only --benchmark-json=bench.json

    # the side-by-side comparison: under 2 minutes quick, under 10 full
    python -m benchmarks.compare --quick
    python -m benchmarks.compare --json benchmarks/results.json \\
        --plot benchmarks/scaling.png --markdown comparison.md

    # some workloads or implementations only; re-render a saved run
    python -m benchmarks.compare --workloads W2,W7,S --implementations ipamcore,roaring
    python -m benchmarks.compare --load benchmarks/results.json --markdown -

Each figure is the median of several rounds, with min and max, in
nanoseconds per operation (or per iteration: a release plus an allocation).
"""

"""Memory taken by one implementation over one workload, in a fresh process.

``tracemalloc`` sees only Python's own allocations, not the C allocations of
the compiled core, roaring or bitarray, so memory is read from the kernel as
the process's anonymous resident memory (resident minus file-backed pages in
``/proc/self/statm``; code pages of a library touched for the first time are
file-backed and so left out):

1. the workload's random plan is drawn first and kept alive, then the C
   allocator is asked to hand its free pages back (glibc's ``malloc_trim``),
   so that memory the plan freed is not silently reused by the subject;
2. ``before``: anonymous resident memory;
3. the subject is built and the timed loop run to its end (or its budget),
   while a thread samples anonymous resident memory every millisecond;
4. ``held``: anonymous resident memory after the run minus ``before``, what
   the final state occupies;
5. ``peak``: the largest sample (or the final figure, if larger) minus
   ``before``.

One process per implementation and workload keeps one measurement's freed
memory from hiding the next one's.  Figures are whole pages (4 KiB), and
memory that Python's allocator reuses from freed blocks does not show, so
small structures may read as 0.

Run as ``python -m benchmarks.memory WORKLOAD IMPLEMENTATION BUDGET``; prints
one JSON object.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import sys
import threading
from time import perf_counter
from typing import Any

from benchmarks.implementations import implementations
from benchmarks.workloads import WORKLOADS

__all__ = ["Sampler", "anonymous_bytes", "measure"]

PAGE = os.sysconf("SC_PAGE_SIZE")


def release_free_pages() -> None:
    """Return the C heap's free pages to the kernel, where glibc allows it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def anonymous_bytes() -> int:
    """Resident memory of this process not backed by files, in bytes."""
    with open("/proc/self/statm") as statm:
        fields = statm.read().split()
    return (int(fields[1]) - int(fields[2])) * PAGE


class Sampler(threading.Thread):
    """Samples `anonymous_bytes` until stopped and keeps the largest."""

    def __init__(self, interval: float = 0.001) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.largest = 0
        self.halt = threading.Event()

    def run(self) -> None:
        """Sample until `stop` is called."""
        while not self.halt.wait(self.interval):
            self.largest = max(self.largest, anonymous_bytes())

    def stop(self) -> int:
        """Stop sampling and return the largest sample, the current included."""
        self.halt.set()
        self.join()
        return max(self.largest, anonymous_bytes())


def measure(
    workload_name: str, implementation_name: str, budget: float
) -> dict[str, Any]:
    """Build and run one workload on one implementation; report its memory.

    Args:
        workload_name: `Workload.name`, e.g. ``unset_set_any_fragmented20``.
        implementation_name: `Implementation.name`, e.g. ``roaring``.
        budget: Seconds the timed loop may take before it is stopped.

    Returns:
        ``held`` and ``peak`` in bytes, and whether the loop ``completed``.
    """
    workload = next(w for w in WORKLOADS if w.name == workload_name)
    implementation = next(i for i in implementations() if i.name == implementation_name)
    factory = implementation.factory(workload.level)
    workload.draw()
    gc.collect()
    release_free_pages()
    sampler = Sampler()
    sampler.start()
    before = anonymous_bytes()

    trial = workload.prepare(factory)
    done = trial.run(perf_counter() + budget)
    gc.collect()
    held = anonymous_bytes() - before
    peak = sampler.stop() - before
    return {"held": held, "peak": max(peak, held), "completed": done == trial.ops}


def main(argv: list[str]) -> None:
    """Command line entry: print `measure` of the arguments as JSON."""
    workload_name, implementation_name, budget = argv
    print(json.dumps(measure(workload_name, implementation_name, float(budget))))


if __name__ == "__main__":
    main(sys.argv[1:])

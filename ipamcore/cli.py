"""The ``ipamcore`` command: replay driver call traces, simulate churn.

Exit status: 0 on success, 1 when a check fails (a malformed trace line, an
invariant broken during a simulation), 2 on bad usage or a failed read or
write (the message names the file), 130 when interrupted (SIGINT), 141 when
standard output is a pipe closed by its reader.  Driver errors in a replay
are ordinary answers and do not change the exit status.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, BinaryIO, NoReturn, TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from ipamcore import protocol
from ipamcore._messages import failure
from ipamcore.allocator import Allocator
from ipamcore.errors import IpamError
from ipamcore.simulate import InvariantError, Recorder, Simulation, Summary, Workload

__all__ = ["MAX_LINE", "main", "run"]

MAX_LINE = 1 << 20
"""The longest trace line ``ipamcore replay`` reads: 1 MiB, newline not counted."""

EXIT_USAGE = 2
"""Bad usage, or a file or standard stream that cannot be read or written."""

EXIT_INTERRUPTED = 128 + 2
"""Stopped by SIGINT (Ctrl-C), as a shell reports a program the signal ends."""

EXIT_PIPE_CLOSED = 128 + 13
"""Standard output was a pipe its reader closed: a shell's status for SIGPIPE."""

_SKIP_CHUNK = 1 << 16
"""How much of an overlong line is read, then dropped, at a time."""

_DEFAULTS = Workload()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ipamcore")
def main() -> None:
    """IP address management with the contract of Docker's IPAM driver.

    Exit status: 0 on success, 1 when a check fails, 2 on bad usage or an
    input/output error, 130 when interrupted, 141 when standard output is a
    pipe closed early.
    """


_host_id_option = click.option(
    "--host-id",
    metavar="ID",
    help="Derive the default IPv6 pools from ID rather than this machine's id "
    "(Docker's engine id gives Docker's pools).",
)


class _TraceFile(click.File):
    """A trace to read: a file, or standard input for ``-``."""

    def convert(
        self,
        value: str | os.PathLike[str] | IO[Any],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> IO[Any]:
        """Open the trace.

        Raises:
            OSError: ``-`` was given and standard input is closed.
        """
        if value == "-" and sys.stdin is None:
            raise _closed("input")
        return super().convert(value, param, ctx)


@main.command(short_help="Replay a JSON Lines trace of driver calls.")
@click.argument("trace", type=_TraceFile("rb"))
@_host_id_option
def replay(trace: BinaryIO, host_id: str | None) -> None:
    """Replay a JSON Lines TRACE of driver calls ('-' reads standard input).

    Each line is a JSON object: "Call" names the call (GetCapabilities,
    GetDefaultAddressSpaces, RequestPool, ReleasePool, RequestAddress or
    ReleaseAddress) and the other members are the request fields of
    Docker's remote IPAM plugin protocol (AddressSpace, Pool, SubPool,
    Options, V6, PoolID, Address); a missing field takes its zero value ("",
    false, no options), and an empty Address asks for any free address.  The
    calls go to a fresh default allocator, in order.  Its IPv6 predefined
    pools derive from the machine's id unless --host-id is given.

    For each non-blank line one JSON object is written to standard output:
    the protocol's response fields (PoolID, Pool, Data, Address, ...), or
    {"Err": "<message>"} when the driver refuses the call.  A malformed line
    (bad JSON, unknown call or field, wrong type, or longer than 1 MiB,
    1,048,576 bytes, newline not counted) gets {"Err": "line N: Invalid
    Request: <problem>"}, and the replay goes on.  An overlong line is
    answered as soon as it is found too long; the rest of it is dropped as
    it is read, never held in memory.

    Exit status: 0 when every line was well formed, even if some calls
    returned Err (those are normal driver answers); 1 when any line was
    malformed; 2 on bad usage, such as an unreadable file, or when input or
    output cannot be read or written; 130 when interrupted; 141 when
    standard output is a pipe closed early.
    """
    driver = Allocator(host_id=host_id)
    malformed = 0
    for number, line in enumerate(_trace_lines(trace), start=1):
        if line is not None and not line.strip():
            continue
        try:
            call, body = _parse_line(line)
            response = protocol.execute(driver, call, body)
        except protocol.ProtocolError as exc:
            malformed += 1
            response = {"Err": f"line {number}: {exc}"}
        except IpamError as exc:
            response = protocol.error_response(exc)
        click.echo(json.dumps(response))
    if malformed:
        sys.exit(1)


def _trace_lines(trace: IO[bytes]) -> Iterator[bytes | None]:
    """Yield the lines of a trace, ``None`` for each longer than `MAX_LINE`.

    No more than `MAX_LINE` bytes of a line are held at once: an overlong
    line is reported as soon as it is found too long, and the rest of it is
    then read and dropped a piece at a time, up to its newline or the end.
    """
    while True:
        line = trace.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) <= MAX_LINE or line.endswith(b"\n"):
            yield line
            continue
        yield None
        while (piece := trace.readline(_SKIP_CHUNK)) and not piece.endswith(b"\n"):
            pass


def _parse_line(line: bytes | None) -> tuple[str, dict[str, object]]:
    """Decode a trace line from `_trace_lines`.

    Raises:
        ProtocolError: The line is malformed, or was too long (``None``).
    """
    if line is None:
        raise failure(protocol.ProtocolError, f"longer than {MAX_LINE} bytes")
    return protocol.parse_line(line)


def _refuse_dash(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> str | None:
    """Refuse ``-`` as a trace file: standard output carries the summary."""
    if value == "-":
        raise click.BadParameter("must be a file; standard output has the summary")
    return value


@main.command(short_help="Run a checked churn of networks and containers.")
@click.option(
    "--networks",
    type=click.IntRange(min=1),
    default=_DEFAULTS.networks,
    show_default=True,
    help="Networks to keep alive, at most (the default local pools hold 31).",
)
@click.option(
    "--ops",
    type=click.IntRange(min=1),
    default=_DEFAULTS.operations,
    show_default=True,
    help="Driver calls to make.",
)
@click.option(
    "--seed",
    type=int,
    default=_DEFAULTS.seed,
    show_default=True,
    help="Seed of the random choices; the same seed gives the same run.",
)
@click.option("--serial", is_flag=True, help="Hand out addresses round-robin.")
@click.option("--v6", is_flag=True, help="Use IPv6 pools instead of IPv4 ones.")
@click.option(
    "--check-every",
    type=click.IntRange(min=1),
    default=_DEFAULTS.check_interval,
    show_default=True,
    help="Calls between two full checks of the allocator's counts.",
)
@click.option(
    "--trace-out",
    type=click.Path(dir_okay=False, writable=True),
    callback=_refuse_dash,
    help="Save every call made to FILE, as a trace 'ipamcore replay' accepts.",
)
@_host_id_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON instead."
)
def simulate(
    networks: int,
    ops: int,
    seed: int,
    serial: bool,
    v6: bool,
    check_every: int,
    trace_out: str | None,
    host_id: str | None,
    as_json: bool,
) -> None:
    """Run an orchestrator-like churn on the default allocator and check it.

    Networks are created the way Docker creates them (a predefined pool,
    then its gateway address, then container addresses); containers and
    networks then come and go at random, one driver call per operation.
    The allocator is checked as it goes: no address handed out twice,
    every address inside its pool, and its free counts and used addresses
    matching the books.  Refusals the contract allows, such as NoAvailablePoolError,
    are counted as failures by error class; they are not check failures.

    A progress bar is shown on standard error when it is a terminal.  The
    run ends with a table: operations per second, pools, addresses live,
    runs, failures.

    Exit status: 0 when every check passed, 1 when one failed (the message
    names the operation and the seed; a trace saved with --trace-out ends
    with the call that failed), 2 on bad usage or when the trace or standard
    output cannot be written, 130 when interrupted, 141 when standard output
    is a pipe closed early.
    """
    workload = Workload(networks, ops, seed, serial, v6, check_every)
    with _trace_recorder(trace_out) as recorder:
        simulation = Simulation(Allocator(host_id=host_id), workload, recorder)
        try:
            summary = _run_with_progress(simulation, ops)
        except InvariantError as exc:
            click.echo(
                f"ipamcore simulate: check failed (seed {seed}): {exc}", err=True
            )
            sys.exit(1)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        # Only the progress bar may carry escape codes: no colour or style
        # here, even on a terminal.
        Console(file=sys.stdout, color_system=None).print(_summary_table(summary))


@contextmanager
def _trace_recorder(path: str | None) -> Iterator[Recorder | None]:
    """Open the trace file, if any, and yield a recorder writing to it.

    Raises:
        click.BadParameter: The file cannot be opened for writing.
    """
    if path is None:
        yield None
        return
    try:
        out = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise click.BadParameter(
            f"cannot write {path!r}: {detail}", param_hint="'--trace-out'"
        ) from None
    with out:
        yield lambda call, body, response: _write_call(out, call, body)


def _write_call(out: TextIO, call: str, body: protocol.Request) -> None:
    """Write one call as a trace line."""
    out.write(json.dumps({"Call": call, **body}) + "\n")


def _run_with_progress(simulation: Simulation, total: int) -> Summary:
    """Run a simulation with a progress bar on standard error, if a terminal."""
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_console(sys.stderr),
        disable=not sys.stderr.isatty(),
        transient=True,
    )
    with progress:
        task = progress.add_task("simulating", total=total)
        return simulation.run(lambda done: progress.update(task, completed=done))


def _summary_table(summary: Summary) -> Table:
    """Lay a summary out as a two-column table."""
    table = Table(title="ipamcore simulate")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("operations", f"{summary.operations:,}")
    table.add_row("operations per second", f"{summary.operations_per_second:,.0f}")
    table.add_row("pools", f"{summary.pools:,}")
    table.add_row("addresses live", f"{summary.addresses:,}")
    table.add_row("runs", f"{summary.runs:,}")
    table.add_row("checks passed", f"{summary.checks:,}")
    for name, count in sorted(summary.failures.items()):
        table.add_row(f"failures: {name}", f"{count:,}")
    if not summary.failures:
        table.add_row("failures", "0")
    return table


def _console(stream: IO[str]) -> Console:
    """Return a console that writes escape codes only to a terminal."""
    return Console(file=stream, force_terminal=stream.isatty())


def run() -> None:
    """Run the command line and exit with its status.

    Click's own ``main`` exits with status 1 on a closed pipe and on Ctrl-C,
    the status of a failed check here, so the command is invoked directly
    and every way out is mapped below: usage errors as Click shows them
    (status 2), input and output failures as one line (2), a pipe closed by
    its reader quietly (141), an interrupt as one line (130).
    """
    try:
        _invoke(sys.argv[1:])
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(EXIT_PIPE_CLOSED)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(EXIT_USAGE, f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        _fail(EXIT_INTERRUPTED, "interrupted")


def _invoke(args: list[str]) -> None:
    """Parse ``args`` and run the command they name.

    Raises:
        OSError: Standard output is closed, or a read or write failed.
        click.ClickException: Bad usage.
        click.exceptions.Exit: ``--help`` or ``--version`` was answered.
    """
    if sys.stdout is None:
        raise _closed("output")
    with main.make_context("ipamcore", args) as context:
        main.invoke(context)


def _closed(stream: str) -> OSError:
    """Return the error for a standard stream that was closed at start."""
    return OSError(errno.EBADF, f"standard {stream} is closed")


def _silence_stdout() -> None:
    """Point standard output at the null device, so exiting writes nothing.

    Whatever is still buffered for a closed pipe would otherwise fail again
    when the interpreter flushes it on the way out.
    """
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


def _fail(status: int, message: str) -> NoReturn:
    """Write ``ipamcore: <message>`` on standard error and exit with ``status``."""
    click.echo(f"ipamcore: {message}", err=True)
    sys.exit(status)

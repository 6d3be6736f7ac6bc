"""The ``ipamcore`` command, end to end in a subprocess."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ipamcore import Allocator, __version__
from ipamcore.cli import MAX_LINE
from ipamcore.protocol import CALLS, Request, Response
from ipamcore.simulate import Simulation, Workload

POOL = "LocalDefault/172.17.0.0/16"
SUB = "LocalDefault/192.0.2.0/24/192.0.2.128/25"
V6 = "GlobalDefault/2001:db8::/64"
HOST32 = "LocalDefault/203.0.113.20/32/203.0.113.20/32"
GATEWAY = {"RequestAddressType": "com.docker.network.gateway"}
SERIAL = {"com.docker.network.ipam.serial": "true"}
HOST_ID = "499d4bc0-b0b3-416f-b1ee-cf6486315593"
ULA = "LocalDefault/fd62:fb69:18af::/64"

# Each step: a call line of the trace and the exact result line replay gives.
EVERY_CALL_KIND: list[tuple[dict[str, object], dict[str, object]]] = [
    (
        {"Call": "GetCapabilities"},
        {"RequiresMACAddress": False, "RequiresRequestReplay": False},
    ),
    (
        {"Call": "GetDefaultAddressSpaces"},
        {
            "LocalDefaultAddressSpace": "LocalDefault",
            "GlobalDefaultAddressSpace": "GlobalDefault",
        },
    ),
    (
        {
            "Call": "RequestPool",
            "AddressSpace": "LocalDefault",
            "Pool": "",
            "SubPool": "",
            "Options": {},
            "V6": False,
        },
        {"PoolID": POOL, "Pool": "172.17.0.0/16", "Data": {}},
    ),
    (
        {"Call": "RequestAddress", "PoolID": POOL, "Address": "", "Options": GATEWAY},
        {"Address": "172.17.0.1/16", "Data": {}},
    ),
    (
        {"Call": "RequestAddress", "PoolID": POOL, "Address": "", "Options": None},
        {"Address": "172.17.0.2/16", "Data": {}},
    ),
    (
        {
            "Call": "RequestPool",
            "AddressSpace": "LocalDefault",
            "Pool": "192.0.2.0/24",
            "SubPool": "192.0.2.128/25",
        },
        {"PoolID": SUB, "Pool": "192.0.2.0/24", "Data": {}},
    ),
    (
        {"Call": "RequestAddress", "PoolID": SUB},
        {"Address": "192.0.2.128/24", "Data": {}},
    ),
    (
        {"Call": "RequestAddress", "PoolID": SUB, "Address": "192.0.2.1"},
        {"Address": "192.0.2.1/24", "Data": {}},
    ),
    (
        {"Call": "RequestAddress", "PoolID": SUB, "Address": "192.0.2.1"},
        {"Err": "Address already in use: 192.0.2.1"},
    ),
    (
        {"Call": "RequestAddress", "PoolID": SUB, "Address": "198.51.100.7"},
        {
            "Err": "Requested address is out of range: "
            "198.51.100.7 is not in 192.0.2.0/24"
        },
    ),
    (
        {"Call": "RequestPool", "AddressSpace": "LocalDefault", "Pool": "192.0.2.0/25"},
        {
            "Err": "Pool overlaps with other one on this address space: "
            "192.0.2.0/25 overlaps a pool allocated at 192.0.2.0"
        },
    ),
    (
        {
            "Call": "RequestPool",
            "AddressSpace": "GlobalDefault",
            "Pool": "2001:db8::/64",
            "V6": True,
        },
        {"PoolID": V6, "Pool": "2001:db8::/64", "Data": {}},
    ),
    (
        {"Call": "RequestAddress", "PoolID": V6, "Options": SERIAL},
        {"Address": "2001:db8::1/64", "Data": {}},
    ),
    (
        {
            "Call": "RequestAddress",
            "PoolID": V6,
            "Address": "2001:db8::ffff:ffff:ffff:ffff",
        },
        {"Address": "2001:db8::ffff:ffff:ffff:ffff/64", "Data": {}},
    ),
    (
        {"Call": "ReleaseAddress", "PoolID": V6, "Address": "2001:db8::1"},
        {},
    ),
    (
        {"Call": "ReleaseAddress", "PoolID": V6, "Address": "2001:db8::1"},
        {},
    ),
    (
        {"Call": "ReleaseAddress", "PoolID": V6},
        {"Err": "Invalid Request: not an IP address: ''"},
    ),
    (
        {"Call": "RequestPool", "AddressSpace": "Bad/Space"},
        {"Err": "Invalid Address Space: 'Bad/Space'"},
    ),
    (
        {"Call": "RequestAddress", "PoolID": "LocalDefault/10.9.0.0/16"},
        {"Err": "Address Pool not found: LocalDefault/10.9.0.0/16"},
    ),
    (
        {"Call": "ReleasePool", "PoolID": POOL},
        {},
    ),
    (
        {"Call": "ReleasePool", "PoolID": POOL},
        {"Err": f"Address space does not contain specified address pool: {POOL}"},
    ),
    (
        {"Call": "ReleasePool", "PoolID": "garbage"},
        {"Err": "Invalid Request: not a pool id: 'garbage'"},
    ),
    (
        {
            "Call": "RequestPool",
            "AddressSpace": "LocalDefault",
            "Pool": "203.0.113.20/32",
            "SubPool": "203.0.113.20/32",
        },
        {"PoolID": HOST32, "Pool": "203.0.113.20/32", "Data": {}},
    ),
    (
        {"Call": "RequestAddress", "PoolID": HOST32},
        {"Address": "203.0.113.20/32", "Data": {}},
    ),
    (
        {"Call": "RequestAddress", "PoolID": HOST32},
        {
            "Err": "No available addresses on this pool: "
            "203.0.113.20 to 203.0.113.20 of 203.0.113.20/32"
        },
    ),
    (
        {"Call": "RequestPool", "AddressSpace": "Empty"},
        {"Err": "No available pool: Empty has no IPv4 predefined pools"},
    ),
    (
        {"Call": "RequestPool", "AddressSpace": "LocalDefault", "V6": True},
        {"PoolID": ULA, "Pool": "fd62:fb69:18af::/64", "Data": {}},
    ),
]


@pytest.fixture(autouse=True)
def in_scratch_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every command in a scratch directory, so that nothing lands in the repo."""
    monkeypatch.chdir(tmp_path)


def ipamcore(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the ``ipamcore`` command and capture what it writes."""
    return subprocess.run(
        [sys.executable, "-m", "ipamcore", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env=env,
    )


def jsonl(values: list[dict[str, object]]) -> str:
    """Write values as JSON Lines."""
    return "".join(json.dumps(value) + "\n" for value in values)


def test_replay_answers_every_call_kind_exactly(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    trace.write_text(jsonl([call for call, _ in EVERY_CALL_KIND]))
    result = ipamcore("replay", "--host-id", HOST_ID, str(trace))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == jsonl([answer for _, answer in EVERY_CALL_KIND])
    assert result.stderr == b""


def test_replay_reads_standard_input() -> None:
    calls = [call for call, _ in EVERY_CALL_KIND[:5]]
    result = ipamcore("replay", "-", stdin=jsonl(calls).encode())
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == jsonl(
        [answer for _, answer in EVERY_CALL_KIND[:5]]
    )


def test_replay_reports_malformed_lines_and_goes_on() -> None:
    lines = [
        b'{"Call": "RequestPool", "AddressSpace": "LocalDefault"}',
        b'{"Call": "RequestPool", "AddressSpace": "LocalDefault", "V6": "yes"}',
        b"",
        b'{"Call": "RequestPool", "AddressSpace": "LocalDefault", "Bogus": 1}',
        b'{"Call": "Frobnicate"}',
        b'{"PoolID": "x"}',
        b"[1, 2]",
        b'{"Call": "RequestPool",',
        b'{"Call": 5}',
        b'{"Call": "RequestAddress", "PoolID": "' + POOL.encode() + b'"}',
        b'{"Call": "RequestAddress", "PoolID": "x", "Options": {"a": 1}}',
        b"\xff\xfe",
        b'{"Call": "ReleasePool", "PoolID": "' + POOL.encode() + b'"}   ',
    ]
    result = ipamcore("replay", "-", stdin=b"\n".join(lines) + b"\n")
    assert result.returncode == 1
    assert result.stderr == b""
    assert result.stdout.decode() == jsonl(
        [
            {"PoolID": POOL, "Pool": "172.17.0.0/16", "Data": {}},
            malformed(2, "field V6 must be a boolean, got a string"),
            malformed(4, "unknown field 'Bogus' in RequestPool"),
            malformed(5, "unknown call 'Frobnicate'"),
            malformed(6, "missing field Call"),
            malformed(7, "expected a JSON object, got an array"),
            malformed(
                8,
                "invalid JSON: Expecting property name enclosed in double quotes "
                "at column 24",
            ),
            malformed(9, "field Call must be a string, got a number"),
            {"Address": "172.17.0.1/16", "Data": {}},
            malformed(11, "field Options: 'a' must map to a string, got a number"),
            malformed(12, "not valid UTF-8"),
            {},
        ]
    )


def malformed(number: int, problem: str) -> dict[str, object]:
    """The result replay gives for a malformed line."""
    return {"Err": f"line {number}: Invalid Request: {problem}"}


def test_replay_of_nothing_writes_nothing() -> None:
    result = ipamcore("replay", "-", stdin=b"\n  \n")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["replay"],
        ["replay", "/nonexistent/trace.jsonl"],
        ["replay", "a", "b"],
        ["simulate", "--ops", "0"],
        ["simulate", "--ops", "many"],
        ["simulate", "--networks", "0"],
        ["simulate", "--check-every", "0"],
        ["simulate", "--bogus"],
        ["simulate", "--trace-out", "/"],
        ["simulate", "--trace-out", "-"],
        ["simulate", "--trace-out", "/nonexistent/trace.jsonl"],
    ],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    result = ipamcore(*args)
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"Usage: ipamcore" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["replay", "-h"], ["simulate", "--help"]])
def test_help_states_the_exit_status(args: list[str]) -> None:
    result = ipamcore(*args)
    assert result.returncode == 0
    assert b"Exit status: 0" in result.stdout


LEAKY_COMMAND = """
from ipamcore import cli
from ipamcore.allocator import Allocator


class KeepsReleasedAddresses(Allocator):
    def release_address(self, pool_id, address):
        pass


cli.Allocator = KeepsReleasedAddresses
cli.run()
"""
"""The ``ipamcore`` command on an allocator that never gives an address back."""


def test_simulate_of_a_broken_allocator_exits_1_with_one_line(
    tmp_path: Path,
) -> None:
    trace = tmp_path / "trace.jsonl"
    args = ["--ops", "3000", "--networks", "2", "--seed", "7", "--trace-out"]
    result = subprocess.run(
        [sys.executable, "-c", LEAKY_COMMAND, "simulate", *args, str(trace)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == b""
    message = result.stderr.decode()
    assert message.startswith("ipamcore simulate: check failed (seed 7): operation ")
    assert " free, expected " in message
    assert message.count("\n") == 1
    assert len(trace.read_text().splitlines()) == 3000


def test_simulate_json_summary() -> None:
    result = ipamcore("simulate", "--ops", "5000", "--networks", "8", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    summary = json.loads(result.stdout)
    assert summary["workload"] == {
        "networks": 8,
        "operations": 5000,
        "seed": 0,
        "serial": False,
        "v6": False,
        "check_interval": 10_000,
    }
    assert summary["operations"] == 5000
    assert summary["pools"] == 8
    assert summary["addresses"] >= 8
    assert summary["runs"] >= 3 * 8
    assert summary["checks"] == 1
    assert summary["seconds"] > 0
    assert summary["operations_per_second"] > 0
    assert summary["failures"] == {}


def test_simulate_is_deterministic_for_a_seed() -> None:
    args = ["simulate", "--ops", "6000", "--seed", "9", "--serial", "--json"]
    first, second = (json.loads(ipamcore(*args).stdout) for _ in range(2))
    for summary in (first, second):
        del summary["seconds"], summary["operations_per_second"]
    assert first == second
    assert first["workload"]["serial"] is True


def test_simulate_table_has_no_escape_codes_off_a_terminal() -> None:
    env = {**os.environ, "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}
    result = ipamcore("simulate", "--ops", "3000", "--networks", "40", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    table = result.stdout.decode()
    assert "\x1b" not in table
    for measure in ["operations per second", "pools", "addresses live", "runs"]:
        assert measure in table
    assert "failures: NoAvailablePoolError" in table


def test_simulate_table_has_no_escape_codes_on_a_terminal() -> None:
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "ipamcore", "simulate", "--ops", "3000"],
        stdout=terminal,
        stderr=subprocess.PIPE,
    ) as process:
        os.close(terminal)
        _, stderr = process.communicate(timeout=120)
    shown = _read_all(controller)
    assert process.returncode == 0, stderr
    assert b"operations per second" in shown
    assert b"\x1b" not in shown


def test_replay_that_cannot_write_exits_2_with_one_line() -> None:
    trace = b'{"Call": "GetCapabilities"}\n' * 50_000
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "ipamcore", "replay", "-"],
            input=trace,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr == b"ipamcore: No space left on device\n"


def test_replay_answers_an_overlong_number_and_goes_on() -> None:
    trace = b'{"Call": "ReleasePool", "PoolID": ' + b"7" * 5000 + b"}\n"
    trace += b'{"Call": "GetDefaultAddressSpaces"}\n'
    result = ipamcore("replay", "-", stdin=trace)
    assert result.returncode == 1
    first, second = result.stdout.decode().splitlines()
    assert json.loads(first) == {
        "Err": "line 1: Invalid Request: invalid JSON: a number with too many digits"
    }
    assert json.loads(second)["LocalDefaultAddressSpace"] == "LocalDefault"


def test_replay_answers_an_overlong_line_and_goes_on() -> None:
    longest = b'{"Call": "GetCapabilities"}'.ljust(MAX_LINE) + b"\n"
    overlong = b'{"Call": "GetCapabilities"}'.ljust(MAX_LINE + 1) + b"\n"
    endless = b"[" * (3 * MAX_LINE)
    trace = longest + overlong + b'{"Call": "GetDefaultAddressSpaces"}\n' + endless
    result = ipamcore("replay", "-", stdin=trace)
    assert result.returncode == 1
    assert result.stderr == b""
    capabilities, first, spaces, last = map(json.loads, result.stdout.splitlines())
    assert capabilities == EVERY_CALL_KIND[0][1]
    too_long = f"longer than {MAX_LINE} bytes"
    assert first == malformed(2, too_long)
    assert spaces == EVERY_CALL_KIND[1][1]
    assert last == malformed(4, too_long)


@pytest.mark.skipif(
    sys.platform != "linux", reason="reads a process's memory from Linux's /proc"
)
def test_replay_answers_an_endless_line_at_once_in_bounded_memory() -> None:
    # The address space limit makes a replay that keeps the line fail fast.
    command = 'ulimit -v 1048576 && exec "$@"'
    args = [sys.executable, "-m", "ipamcore", "replay", "/dev/zero"]
    with subprocess.Popen(
        ["sh", "-c", command, "sh", *args], stdout=subprocess.PIPE
    ) as process:
        assert process.stdout is not None
        try:
            answer = json.loads(process.stdout.readline())
            assert answer == malformed(1, f"longer than {MAX_LINE} bytes")
            peak = _peak_memory(process.pid)
            _wait_until_read(process.pid, 64 * MAX_LINE)
            assert _peak_memory(process.pid) - peak < 8 * MAX_LINE
        finally:
            process.kill()


def _peak_memory(pid: int) -> int:
    """Return the peak resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def _wait_until_read(pid: int, count: int) -> None:
    """Wait until a process has read ``count`` bytes, or fail after a minute."""
    for _ in range(6000):
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:") and int(line.split()[1]) >= count:
                return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not read {count} bytes")


def closed(stream: int, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run the ``ipamcore`` command with standard input (0) or output (1) closed."""
    command = f'exec "$@" {stream}>&-'
    return subprocess.run(
        ["sh", "-c", command, "sh", sys.executable, "-m", "ipamcore", *args],
        input=None if stream == 0 else b'{"Call": "GetCapabilities"}\n',
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )


def test_replay_of_closed_standard_input_exits_2_with_one_line() -> None:
    result = closed(0, "replay", "-")
    assert result.returncode == 2
    assert result.stderr == b"ipamcore: standard input is closed\n"


@pytest.mark.parametrize(
    "args", [["replay", "-"], ["simulate", "--ops", "100"], ["--version"]]
)
def test_closed_standard_output_exits_2_with_one_line(args: list[str]) -> None:
    result = closed(1, *args)
    assert result.returncode == 2
    assert result.stderr == b"ipamcore: standard output is closed\n"


def test_a_pipe_closed_by_its_reader_stops_replay_quietly_with_141(
    tmp_path: Path,
) -> None:
    trace = tmp_path / "trace.jsonl"
    trace.write_bytes(b'{"Call": "GetCapabilities"}\n' * 100_000)
    with subprocess.Popen(
        [sys.executable, "-m", "ipamcore", "replay", str(trace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert json.loads(process.stdout.readline()) == EVERY_CALL_KIND[0][1]
        process.stdout.close()
        stderr = process.stderr.read()
    assert process.returncode == 141
    assert stderr == b""


def test_an_interrupt_exits_130_with_one_line() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "ipamcore", "replay", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdin and process.stdout and process.stderr
        process.stdin.write(b'{"Call": "GetCapabilities"}\n')
        process.stdin.flush()
        assert json.loads(process.stdout.readline()) == EVERY_CALL_KIND[0][1]
        process.send_signal(signal.SIGINT)
        stderr = process.stderr.read()
    assert process.returncode == 130
    assert stderr == b"ipamcore: interrupted\n"


def test_simulate_progress_goes_to_a_terminal_on_stderr() -> None:
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "ipamcore", "simulate", "--ops", "20000", "--json"],
        stdout=subprocess.PIPE,
        stderr=terminal,
    ) as process:
        os.close(terminal)
        stdout, _ = process.communicate(timeout=120)
    shown = _read_all(controller)
    assert process.returncode == 0
    assert json.loads(stdout)["operations"] == 20000
    assert b"simulating" in shown


def _read_all(fd: int) -> bytes:
    """Read what a pseudo-terminal received until its other end is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_simulate_trace_replays_to_the_same_answers(tmp_path: Path) -> None:
    workload = Workload(operations=8000, networks=40, seed=4, serial=True)
    recorded: list[tuple[str, Request, Response]] = []
    simulation = Simulation(Allocator(), workload, lambda *call: recorded.append(call))
    simulation.run()
    assert {call for call, _, _ in recorded} == set(CALLS)
    answers = [response for _, _, response in recorded]
    errors = {
        str(answer["Err"]).partition(":")[0] for answer in answers if "Err" in answer
    }
    assert errors == {"No available pool", "Address already in use"}

    trace = tmp_path / "trace.jsonl"
    args = ["--ops", "8000", "--networks", "40", "--seed", "4", "--serial", "--json"]
    result = ipamcore("simulate", *args, "--trace-out", str(trace))
    assert result.returncode == 0, result.stderr
    calls = [{"Call": call, **body} for call, body, _ in recorded]
    assert trace.read_text() == jsonl(calls)

    replayed = ipamcore("replay", str(trace))
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.decode() == jsonl(answers)


def test_v6_simulate_trace_replays_to_the_same_answers(tmp_path: Path) -> None:
    workload = Workload(operations=3000, networks=4, seed=2, v6=True)
    recorded: list[tuple[str, Request, Response]] = []
    allocator = Allocator(host_id=HOST_ID)
    Simulation(allocator, workload, lambda *call: recorded.append(call)).run()
    assert recorded[2][2]["PoolID"] == ULA

    trace = tmp_path / "trace.jsonl"
    args = ["--ops", "3000", "--networks", "4", "--seed", "2", "--v6"]
    result = ipamcore(
        "simulate", *args, "--host-id", HOST_ID, "--trace-out", str(trace)
    )
    assert result.returncode == 0, result.stderr
    assert trace.read_text() == jsonl([{"Call": c, **body} for c, body, _ in recorded])

    replayed = ipamcore("replay", "--host-id", HOST_ID, str(trace))
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.decode() == jsonl([answer for _, _, answer in recorded])


def test_python_m_ipamcore_and_the_console_script_agree() -> None:
    script = Path(sys.executable).with_name("ipamcore")
    from_script = subprocess.run(
        [str(script), "--version"], capture_output=True, check=True, timeout=60
    )
    from_module = ipamcore("--version")
    assert from_module.returncode == 0
    assert from_script.stdout == from_module.stdout
    assert b"0.1.0" in from_script.stdout
    assert from_script.stdout == f"ipamcore, version {__version__}\n".encode()

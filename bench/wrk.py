"""`wrk` as the HTTP load generator: one request shape (method, headers, body), or a fleet of them taken in turn
(each device its own path and key), from a generated Lua script; the figures read back from wrk's own `done` hook
as JSON (requests/s, p50/p99, errors), not parsed from its text."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# wrk calls done() once at the end; it writes one JSON line that `run` picks out of the output.
_LUA = """
wrk.method = {method}
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format('{{"requests":%d,"seconds":%f,"errors":%d,"status_errors":%d,"p50_us":%d,"p99_us":%d}}\\n',
    summary.requests, summary.duration / 1e6, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


# Formatted once per wrk thread, then handed out in turn: the generator does no work per request.
_LUA_FLEET = """
local fleet = {{
{entries}
}}
local requests = {{}}
local n = 0
init = function(args)
  for i, entry in ipairs(fleet) do
    requests[i] = wrk.format(nil, entry[1], entry[2])
  end
end
request = function()
  n = n % #requests + 1
  return requests[n]
end
"""


def _lua_table(headers: dict[str, str]) -> str:
    return "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()) + "}"


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for the characters we send


@dataclass(frozen=True)
class WrkResult:
    label: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_seconds: float = 0.0  # of the server process, while wrk ran

    @property
    def cpu_us_per_request(self) -> float:
        """Independent of what else the machine does, unlike req/s: the server's own cost of one answer."""
        return self.cpu_seconds / self.requests * 1e6 if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.label:<34} {self.rps:9.1f} req/s  p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms  "
            f"{self.requests:>7} requests {self.errors:>4} errors  {self.cpu_us_per_request:7.0f} us CPU/request"
        )


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live descendants (a server's workers), from /proc, in seconds."""
    ticks, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])
            for task in os.listdir(f"/proc/{current}/task"):
                pending += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except FileNotFoundError:  # ended meanwhile
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk; make test's setup installs it)")
    return path


def run(
    url: str,
    *,
    label: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str = "",
    seconds: float = 8.0,
    connections: int = 64,
    threads: int = 1,
    server_pid: int | None = None,
    fleet: Sequence[tuple[str, dict[str, str]]] = (),
) -> WrkResult:
    """`wrk -t{threads} -c{connections} -d{seconds}s` against `url` with one fixed request, or with `fleet`'s
    (path, headers) in turn, each with `method` and `body`."""
    header_lines = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in (headers or {}).items())
    script = _LUA.format(method=_lua_string(method), body=_lua_string(body), headers=header_lines)
    if fleet:
        entries = ",\n".join(f"{{{_lua_string(path)}, {_lua_table(h)}}}" for path, h in fleet)
        script += _LUA_FLEET.format(entries=entries)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        lua = Path(handle.name)
    cpu_before = process_cpu_seconds(server_pid) if server_pid else 0.0
    try:
        out = subprocess.run(
            [
                require_wrk(),
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--timeout",
                "30s",
                "-s",
                str(lua),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        lua.unlink()
    cpu = process_cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    figures = json.loads(next(line for line in out.splitlines() if line.startswith('{"requests"')))
    return WrkResult(
        label=label,
        requests=figures["requests"],
        seconds=figures["seconds"],
        errors=figures["errors"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        cpu_seconds=cpu,
    )

"""How a person experiences a terminal program, measured through tmux.

``TmuxApp`` starts a command in a detached tmux session (120×40), waits until a marker text is on
the screen (start-up time, measured from just before ``tmux new-session``), then presses keys one
at a time and times each press until the captured screen (with styles) differs from the screen
before the press. It also reads the resident memory (``VmRSS``/``VmHWM`` in ``/proc/<pid>/status``)
of the program running in the pane. Same method as ``../shared/tools/tmux_latency.py`` (which
``run.py`` also calls in place as a cross-check), extended with key sequences and memory.

Usable alone: ``python benchmarks/tmux_probe.py 'CMD' MARKER right,p,a 30``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path


class ProbeError(Exception):
    """The program did not behave as expected (no marker, died early, tmux missing)."""


def _tmux(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check)


WRAPPERS = {"sh", "bash", "dash", "zsh", "fish", "env", "timeout", "nice"}
"""Programs that only start the measured one (the pane's command line may go through them)."""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _all_children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (a child started from a thread is listed under it)."""
    found: list[int] = []
    try:
        tids = [entry.name for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return found
    for tid in tids:
        try:
            found += [int(p) for p in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return found


def _status_kib(pid: int, field_name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class KeyTiming:
    key: str
    ms: float
    changed: bool


@dataclass
class TmuxApp:
    """A program running in a tmux pane."""

    command: str
    cwd: str | None = None
    width: int = 120
    height: int = 40
    session: str = field(default_factory=lambda: "bench" + uuid.uuid4().hex[:8])
    startup_s: float | None = None

    def start(self, marker: str, timeout: float = 20.0) -> float:
        """Start the command and return the seconds until ``marker`` is on screen."""
        args = ["new-session", "-d", "-s", self.session, "-x", str(self.width), "-y", str(self.height)]
        if self.cwd:
            args += ["-c", self.cwd]
        # remain-on-exit keeps the pane (and its last screen) when the program dies, for the message.
        # The tmux server is shared with other sessions of this machine: when it is going away just
        # as we start ("server exited unexpectedly"), start again (a new server).
        for attempt in range(3):
            t0 = time.perf_counter()
            result = _tmux(*args, self.command, ";", "set-option", "-t", self.session, "remain-on-exit", "on")
            if result.returncode == 0:
                break
            if "server exited" not in result.stderr and "no server" not in result.stderr:
                break
            time.sleep(0.3)
        if result.returncode != 0:
            raise ProbeError(f"tmux new-session failed: {result.stderr.strip()}")
        while True:
            screen = self.capture(styled=False)
            if marker in screen:
                self.startup_s = time.perf_counter() - t0
                return self.startup_s
            if time.perf_counter() - t0 > timeout or self.dead():
                last = " | ".join(line.strip() for line in screen.splitlines() if line.strip())[-300:]
                state = "exited" if self.dead() else f"not shown within {timeout:.0f} s"
                raise ProbeError(f"marker {marker!r} {state}; screen: {last or '(empty)'}")
            time.sleep(0.002)

    def capture(self, styled: bool = True) -> str:
        args = ["capture-pane", "-p", "-t", self.session]
        if styled:
            args.insert(2, "-e")
        return _tmux(*args).stdout

    def dead(self) -> bool:
        return _tmux("display-message", "-p", "-t", self.session, "#{pane_dead}").stdout.strip() == "1"

    def pane_pid(self) -> int | None:
        out = _tmux("display-message", "-p", "-t", self.session, "#{pane_pid}").stdout.strip()
        return int(out) if out.isdigit() else None

    def app_pid(self) -> int | None:
        """The process of the program: the pane's process or, when that is a shell (or ``env``),
        the program it started (its largest child, going down through further shells). Processes
        the program starts itself (a helper holding a model) are not the program."""
        pid = self.pane_pid()
        while pid is not None and _comm(pid) in WRAPPERS:
            children = _all_children(pid)
            if not children:
                break
            pid = max(children, key=lambda child: _status_kib(child, "VmRSS") or 0)
        return pid

    def memory_mib(self) -> tuple[float | None, float | None]:
        """``(VmRSS, VmHWM)`` of the program in MiB."""
        pid = self.app_pid()
        if pid is None:
            return None, None
        rss, hwm = _status_kib(pid, "VmRSS"), _status_kib(pid, "VmHWM")
        return (rss / 1024 if rss else None, hwm / 1024 if hwm else None)

    def press(self, key: str, timeout: float = 2.0) -> KeyTiming:
        """Send one key and time it until the styled screen changes (``changed`` False on timeout)."""
        before = self.capture()
        t0 = time.perf_counter()
        _tmux("send-keys", "-t", self.session, key)
        while True:
            if self.capture() != before:
                return KeyTiming(key, (time.perf_counter() - t0) * 1000, True)
            elapsed = time.perf_counter() - t0
            if elapsed > timeout:
                return KeyTiming(key, elapsed * 1000, False)
            time.sleep(0.001)

    def settle(self, quiet_s: float = 0.3, limit_s: float = 3.0) -> None:
        """Wait until the screen stops changing for ``quiet_s`` (after start-up or a burst of keys)."""
        t0 = time.perf_counter()
        last, since = self.capture(), time.perf_counter()
        while time.perf_counter() - t0 < limit_s:
            time.sleep(0.02)
            now = self.capture()
            if now != last:
                last, since = now, time.perf_counter()
            elif time.perf_counter() - since >= quiet_s:
                return

    def stop(self) -> None:
        _tmux("kill-session", "-t", self.session)

    def __enter__(self) -> "TmuxApp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def key_cycles(app: TmuxApp, keys: list[str], cycles: int, pause_s: float = 0.05) -> dict[str, list[KeyTiming]]:
    """Press ``keys`` in order, ``cycles`` times; timings per key."""
    timings: dict[str, list[KeyTiming]] = {key: [] for key in keys}
    for _ in range(cycles):
        for key in keys:
            timings[key].append(app.press(key))
            time.sleep(pause_s)
    return timings


def summary(timings: list[KeyTiming]) -> dict:
    """Median and p90 over the presses that changed the screen, and how many did not."""
    changed = sorted(t.ms for t in timings if t.changed)
    return {
        "median_ms": statistics.median(changed) if changed else None,
        "p90_ms": changed[min(len(changed) - 1, int(0.9 * len(changed)))] if changed else None,
        "presses": len(timings),
        "unchanged": sum(1 for t in timings if not t.changed),
    }


def tmux_available() -> str | None:
    """``None`` when tmux runs, else why not."""
    try:
        result = _tmux("-V")
    except FileNotFoundError:
        return "tmux is not installed"
    return None if result.returncode == 0 else f"tmux -V failed: {result.stderr.strip()}"


if __name__ == "__main__":  # pragma: no cover - manual use
    command, marker, keys = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    with TmuxApp(command) as probe:
        print(f"startup {probe.start(marker):.3f}s")
        probe.settle()
        print("memory MiB (rss, hwm):", probe.memory_mib())
        for key, items in key_cycles(probe, keys, n).items():
            print(key, summary(items))

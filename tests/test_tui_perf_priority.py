"""The suggestion process runs at a lower CPU priority than the annotate screen (issue #15).

``in_background_priority`` starts the suggester from a helper thread whose nice value is raised
first: the child inherits it, the caller's thread keeps its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from annotator.tui.app import SUGGESTER_NICENESS, in_background_priority

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux behaviour")


def own_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@linux_only
def test_a_child_started_in_background_priority_is_niced_and_the_caller_is_not():
    before = own_nice()
    child = in_background_priority(lambda: subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE))
    try:
        child_nice = os.getpriority(os.PRIO_PROCESS, child.pid)
        assert child_nice == min(19, before + SUGGESTER_NICENESS)
        assert own_nice() == before
    finally:
        child.stdin.close()
        child.wait(timeout=10)


def test_what_start_returns_or_raises_reaches_the_caller():
    assert in_background_priority(lambda: 42) == 42

    def broken():
        raise ValueError("no model")

    with pytest.raises(ValueError, match="no model"):
        in_background_priority(broken)

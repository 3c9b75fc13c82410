"""Run a command and report its wall time and peak memory, measured from a small parent.

Why a separate launcher: on Linux a child's ``ru_maxrss`` starts from the resident size of the
process it was forked from (the kernel carries the pre-``exec`` high-water mark over), so a child
forked straight from ``run.py`` — which has spaCy and a model loaded — would report at least
``run.py``'s own size. Forked from this ~10 MiB interpreter instead, ``ru_maxrss`` is the command's.

usage: python -I -S launch.py REPORT.json CMD [ARGS...]   (the command's exit code is passed on)
"""

import json
import os
import sys
import time


def main() -> int:
    report, argv = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child becomes the command
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(report, "w") as handle:
        json.dump({"wall_s": wall, "maxrss_kib": usage.ru_maxrss, "returncode": code}, handle)
    return code if 0 <= code < 256 else 1


if __name__ == "__main__":
    sys.exit(main())

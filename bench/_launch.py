"""Run one command and record its wall time and peak RSS, from a tiny parent process.

Usage (started by the benchmarks with ``python -S -E``)::

    python -S -E bench/_launch.py RESULT.json COMMAND [ARG...]

Why a launcher: on Linux a child's ``ru_maxrss`` (from ``wait4`` or ``RUSAGE_CHILDREN``) also
counts the memory of the process it was forked from, up to its ``exec``. Forked from the
benchmark driver (which holds the Git server, pygit2 and the generated repository), every
child would report the driver's size. Forked from this ~8 MB interpreter started without
``site``, the figure is the command's own. The wall time is measured here too, around
fork + exec + wait, so the launcher's own start-up is not counted.
"""

import os
import sys
import time


def main() -> None:
    result_path, command = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    # ru_maxrss: KiB on Linux (the only platform this launcher is meant for).
    with open(result_path, "w", encoding="utf-8") as out:
        out.write(
            f'{{"seconds": {seconds!r}, "max_rss_kb": {usage.ru_maxrss}, "returncode": {code}}}'
        )
    sys.exit(0 if code == 0 else 1)


if __name__ == "__main__":
    main()

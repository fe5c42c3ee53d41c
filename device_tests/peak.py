"""Run a command and report its wall time and peak resident memory, like `/usr/bin/time -v`.

Usage: python peak.py RESULT_JSON -- COMMAND [ARGS...]
stdin/stdout/stderr pass through; the exit code is the command's. RESULT_JSON receives
{"wall_s": ..., "peak_rss_kib": ...}.

Why a separate small process: Linux carries a process's peak-RSS high-water mark across exec, and Python's
subprocess starts children with vfork, so a child of a big test process (pytest with scikit-learn loaded)
would report the test process's size. Forked from this ~10 MiB interpreter, the figure is the command's.
"""

import json
import os
import sys
import time


def main() -> int:
    result, sep, *command = sys.argv[1:]
    if sep != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            print(f"peak.py: cannot run {command[0]}: {exc}", file=sys.stderr)
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    with open(result, "w") as handle:
        json.dump({"wall_s": wall, "peak_rss_kib": usage.ru_maxrss}, handle)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Runs one command as a whole process and prints JSON {"seconds": its wall time, "child": its stdout
parsed as JSON, or null}, so that bench/peers/interleave.py can time programs that do not time
themselves (`pda explain` as a whole job, used by scripts/bench-pda.sh). A failing command fails this.

Usage: bench/peers/wall.py CMD [ARG...]"""
import json
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        print(f"wall: {' '.join(sys.argv[1:])} failed (exit {p.returncode})", file=sys.stderr)
        return p.returncode if p.returncode > 0 else 1
    try:
        child = json.loads(p.stdout)
    except ValueError:
        child = None
    json.dump({"seconds": wall, "child": child}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""The rooms of docs/DESIGN.md, checked on every #include: a file may include only its own room and
the rooms below it, engine code outside engine/cuda/ includes no CUDA header, and nothing includes
tests/, bench/, examples/ or fuzz/. Exits 1 naming each wrong include. The CMake targets link in the same
direction (CMakeLists.txt); this check also catches a header-only include, which links fine. fuzz/
is like tests/: it may use every room, and nothing includes it.

Usage: tests/check_rooms.py [SOURCE_DIR]"""
import pathlib
import re
import sys

# Each room and the rooms it may use (besides itself and the public headers in include/pda).
BELOW = {
    "kernels": set(),
    "weights": {"kernels"},
    "networks": {"weights", "kernels"},
    "engine": {"networks", "weights", "kernels"},
    "io": {"engine", "networks", "weights", "kernels"},
    "api": {"io", "engine", "networks", "weights"},
    "cli": set(),  # the public API (include/pda) only
}
# Known crossings, each to be removed by the work named; listed so that no new one goes unseen.
KNOWN: dict = {}
CUDA_HEADER = re.compile(r"#include\s*<(cuda|cudnn|cublas|curand)[^>]*>")
INCLUDE = re.compile(r'#include\s*"([^"]+)"')


def room_of(path: str) -> str:
    return path.split("/")[0]


def main(root: pathlib.Path) -> int:
    bad, seen_known = [], set()
    for room in BELOW:
        for f in sorted((root / room).rglob("*")):
            if f.suffix not in (".h", ".cc", ".cu"):
                continue
            rel = f.relative_to(root).as_posix()
            text = f.read_text()
            cuda_ok = rel.startswith(("kernels/cuda/", "engine/cuda/"))
            if not cuda_ok and CUDA_HEADER.search(text):
                bad.append(f"{rel}: includes a CUDA header outside kernels/cuda/ and engine/cuda/")
            for inc in INCLUDE.findall(text):
                target = room_of(inc)
                if target in ("pda",) or target == room or inc.startswith("CLI/"):
                    continue
                if target not in BELOW and target not in ("tests", "bench", "examples", "fuzz"):
                    continue  # a third-party or generated header
                if (not cuda_ok) and inc.startswith(("kernels/cuda/", "engine/cuda/")):
                    bad.append(f"{rel}: includes {inc} (CUDA code outside the CUDA backend)")
                    continue
                if target in BELOW[room]:
                    continue
                if (rel, inc) in KNOWN:
                    seen_known.add((rel, inc))
                    continue
                bad.append(f"{rel}: includes {inc}, but {room}/ may use only {sorted(BELOW[room]) or 'itself'}")
    for k in sorted(set(KNOWN) - seen_known):
        bad.append(f"{k[0]} no longer includes {k[1]}: remove it from KNOWN in tests/check_rooms.py")
    for b in bad:
        print(b)
    print(f"check_rooms: {len(bad)} wrong includes, {len(seen_known)} known crossings left")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)))

"""Instructions per unit of work of an in-process bench, counted by callgrind: a figure that
does not move with the load on a shared machine, so a change of 1 % shows.

    python bench/count_instructions.py [--small 100] [--large 300] -- \\
        bench/http_cost.py --phase single --repeat 1 --singles {n}

Runs the command under `valgrind --tool=callgrind` twice, with {n} replaced by `--small`
and then by `--large`, and prints (instructions of the large run - those of the small one)
/ (large - small): start-up and warm-up cancel out, what is left is the cost of one unit
(a request, a message, a login: whatever {n} counts). Each run is about 50 times slower
than without valgrind. Needs valgrind (Debian's package). Not a test.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_COLLECTED = re.compile(rb"Collected : (\d+)")


def instructions(command: list[str], n: int) -> int:
    """Instructions callgrind counted for `command` with {n} set to `n`."""
    args = [part.replace("{n}", str(n)) for part in command]
    # a fixed string hash: with a random one, dict and set layouts (and so the counts)
    # moved by up to 2 % between runs of one tree
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, *args], cwd=REPO, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout.decode(errors="replace")[-2000:])
        sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
        raise SystemExit(f"the command failed under valgrind (exit {done.returncode})")
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise SystemExit("callgrind printed no instruction count")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=300)
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="a bench script and its arguments, {n} where the count goes")
    args = parser.parse_args()
    command = [part for part in args.command if part != "--"]
    if not command or not any("{n}" in part for part in command):
        parser.error("give a command with {n} in its arguments")
    if args.large <= args.small:
        parser.error("--large must be above --small")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    started = time.monotonic()
    small = instructions(command, args.small)
    large = instructions(command, args.large)
    per_unit = (large - small) / (args.large - args.small)
    print(f"{per_unit:,.0f} instructions per unit ({' '.join(command)}; n = {args.small} "
          f"and {args.large}: {small:,} and {large:,}; {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()

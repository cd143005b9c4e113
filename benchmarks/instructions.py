"""Instructions per ``PUT /v2/customer_sessions/{id}`` in the worker, counted by Valgrind.

CPU time on these machines moves by a third from one minute to the next (``docs/benchmarks.md``),
more than most changes to the hot path save, so ``cpu_per_request.py`` can only compare versions
side by side, over many batches. Callgrind counts the instructions the process executes instead:
the same count for the same code and inputs, whatever else the machine does. It says nothing of
caches or of PostgreSQL (another process), so it complements the time measurements rather than
replacing them.

It runs ``cpu_per_request.py``'s workload (same database, key, sessions and body) under
``valgrind --tool=callgrind`` twice, at the same time: once with only the warm-up requests, once
with ``--requests`` more; the difference, divided by ``--requests``, is the count per request,
start-up and warm-up excluded. About a minute and a half for the defaults, using both cores.

Run: ``.venv/bin/python -m benchmarks.instructions [--bare] [--requests 200]`` after
``.venv/bin/python -m benchmarks.cpu_per_request --setup`` (which seeds ``talonone_bench``).
Needs ``valgrind`` (Debian's package)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _count(requests: int, built: int, *, bare: bool, out: Path) -> subprocess.Popen[str]:
    """Start the workload under callgrind: the warm-up, then ``requests`` more."""
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--run",
        str(requests),
        "--built",
        str(built),
    ]
    if bare:
        command.append("--bare")
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _total(process: subprocess.Popen[str]) -> int:
    _, errors = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the counted run failed:\n{errors[-3000:]}")
    found = re.search(r"I\s+refs:\s+([\d,]+)", errors)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{errors[-3000:]}")
    return int(found.group(1).replace(",", ""))


def _run(requests: int, built: int, *, bare: bool) -> None:
    """The counted workload (inside valgrind): the warm-up, then ``built`` requests built and
    ``requests`` of them sent (both runs build as many, so that building them cancels out)."""
    from benchmarks import cpu_per_request

    cpu_per_request.main(
        [f"--warm-only={built}", f"--requests={requests}", *(["--bare"] if bare else [])]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bare", action="store_true", help="count the bare view")
    parser.add_argument("--requests", type=int, default=200, help="requests counted")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # inside valgrind
    parser.add_argument("--built", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run is not None:
        _run(args.run, args.built, bare=args.bare)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the same dict layouts in both runs
    with tempfile.TemporaryDirectory() as scratch:
        built = args.requests
        base = _count(0, built, bare=args.bare, out=Path(scratch) / "base.out")
        more = _count(args.requests, built, bare=args.bare, out=Path(scratch) / "more.out")
        per_request = (_total(more) - _total(base)) / args.requests
    name = "bare view" if args.bare else "app"
    print(f"{name}: {per_request / 1e6:.3f} million instructions per request (worker)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

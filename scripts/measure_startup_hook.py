#!/usr/bin/env python3
"""What the ``ASGIBRIDGE_AS_ASGIREF`` start-up hook (.pth) costs at interpreter start-up.

Two figures, for the variable unset and set: (1) what ``site`` spends on the file
(``site.addpackage``: open, read, exec of the line), measured in this process; (2) the
median CPU time of ``python -c pass`` in a fresh venv without the hook, with it
(unset) and with it (set), the three interleaved so machine load hits them alike.
CPU time, not wall time: on a shared machine, waiting for a core is not the hook's cost.
The hook imports nothing at start-up either way, so (2) differs by noise only.

Usage: scripts/measure_startup_hook.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import site
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

PTH = Path(__file__).resolve().parents[1] / "src/asgibridge/_activation/asgibridge-as-asgiref.pth"
VARIABLE = "ASGIBRIDGE_AS_ASGIREF"


def line_cost(value: str | None, number: int = 2000) -> float:
    """Microseconds ``site`` spends on the hook file (read, parse, exec), variable at ``value``."""
    saved = os.environ.pop(VARIABLE, None)
    meta_path = list(sys.meta_path)
    try:
        if value is not None:
            os.environ[VARIABLE] = value

        def once() -> None:
            site.addpackage(str(PTH.parent), PTH.name, set())  # what site does per .pth
            sys.meta_path[:] = meta_path  # drop the finder a set variable adds

        # CPU time, not wall time: on a shared machine waiting for a core is not the hook's.
        runs = timeit.repeat(once, number=number, repeat=7, timer=time.process_time)
        return min(runs) / number * 1e6
    finally:
        os.environ.pop(VARIABLE, None)
        if saved is not None:
            os.environ[VARIABLE] = saved


def startup_ms(runs: int) -> dict[str, float]:
    """Median CPU time of ``python -c pass`` in a bare venv: no hook, hook unset, hook set."""
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        python = str(venv / "bin" / "python")
        (site_dir,) = venv.glob("lib/python*/site-packages")
        env = {k: v for k, v in os.environ.items() if k != VARIABLE}
        cases = {"no hook": (False, env), "hook, unset": (True, env)}
        cases["hook, set"] = (True, dict(env, **{VARIABLE: "1"}))
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, (hooked, environ) in cases.items():
                target = site_dir / PTH.name
                if hooked:
                    target.write_text(PTH.read_text())
                elif target.exists():
                    target.unlink()
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([python, "-c", "pass"], env=environ, check=True)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                times[name].append(cpu * 1000)
        return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="start-ups per case (default 40)")
    args = parser.parse_args()
    print(f"site on the hook file, variable unset: {line_cost(None):.1f} us CPU per start-up")
    print(f"site on the hook file, variable set:   {line_cost('1'):.1f} us CPU per start-up")
    for name, ms in startup_ms(args.runs).items():
        print(f"python -c pass, {name}: median CPU {ms:.2f} ms ({args.runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

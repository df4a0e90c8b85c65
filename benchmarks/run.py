"""Run the benchmark suites and print asgibridge's speed beside asgiref's as a markdown table.

Usage::

    python benchmarks/run.py [--only bridge,local,wsgi] [--repeats N] [--quick]
                             [--markdown FILE] [--check] [--no-pin] [--list]

Theory of operation:

1. Pinning. Per-call costs depend on whether the two threads of a hop share a
   CPU (a hand-off to another core costs a wake-up IPI and cache traffic), so
   the whole process is re-executed once under ``taskset -c CPU`` (the first
   CPU it may use) unless it already runs on a single CPU, ``taskset`` is
   missing, or ``--no-pin`` is given. ``ASGIBRIDGE_BENCH_PINNED`` marks the
   child so it never re-executes again.
2. Discovery. Every ``benchmarks/bench_*.py`` module that defines ``ROWS`` is a
   suite named after the file (``bench_bridge.py`` -> ``bridge``). A suite may
   also define ``extra_lines(results) -> {row name: [markdown lines]}`` for
   ungraded baseline lines printed under a row.
3. Measuring. ``_harness.run_rows`` runs the rows, alternating which side goes
   first each repeat, and keeps the median per side. ``--quick`` sets
   ``ASGIBRIDGE_BENCH_QUICK=1`` (suites shorten their batches) and 3 repeats:
   a smoke test, not a measurement.
4. Reporting. The machine, versions and load, then one table per suite, go to
   stdout (and to ``--markdown FILE``). Progress goes to stderr. A missed goal
   is reported, not an error: the exit status is 0 unless a suite failed to
   import or run (1), or ``--check`` is given and a goal was missed (1).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import shutil
import subprocess
import sys
import traceback
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
for _path in (str(HERE.parent), str(HERE)):  # `_harness` and `benchmarks._harness` both import
    if _path not in sys.path:
        sys.path.insert(0, _path)

import _harness  # noqa: E402

PINNED_ENV = "ASGIBRIDGE_BENCH_PINNED"
QUICK_ENV = "ASGIBRIDGE_BENCH_QUICK"
DEFAULT_REPEATS = 7
QUICK_REPEATS = 3


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="asgibridge vs asgiref, same process, interleaved, pinned to one CPU.",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated suites to run (default: all), e.g. bridge,local",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"batches per side and row (default {DEFAULT_REPEATS}, {QUICK_REPEATS} with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="few repeats, short batches: a smoke test"
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    parser.add_argument("--no-pin", action="store_true", help="do not re-run under taskset")
    parser.add_argument("--list", action="store_true", help="list suites and rows, run nothing")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def _pin_cpu() -> str | None:
    """The CPU to pin to, or None when pinning is impossible or already done."""
    if os.environ.get(PINNED_ENV) or shutil.which("taskset") is None:
        return None
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):  # not Linux
        return None
    if len(allowed) <= 1:
        return None
    cpu = str(min(allowed))
    probe = subprocess.run(["taskset", "-c", cpu, "true"], capture_output=True, check=False)
    return cpu if probe.returncode == 0 else None


def _reexec_pinned() -> None:
    """Replace this process by the same command under ``taskset -c CPU`` (if useful)."""
    cpu = _pin_cpu()
    if cpu is None:
        return
    os.environ[PINNED_ENV] = cpu
    command = ["taskset", "-c", cpu, sys.executable, *sys.orig_argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp("taskset", command)
    except OSError as exc:  # keep going unpinned, but say so
        print(f"run.py: could not re-run under taskset ({exc}); not pinned", file=sys.stderr)


def _discover(only: str) -> dict[str, Path]:
    suites = {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}
    if not only:
        return suites
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in suites]
    if unknown:
        raise SystemExit(f"run.py: unknown suite(s) {unknown}; available: {sorted(suites)}")
    return {name: suites[name] for name in wanted}


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # importable from a source tree (PYTHONPATH=src)?
        try:
            module = importlib.import_module(distribution)
        except ImportError:
            return "not installed"
        return f"{getattr(module, '__version__', '?')} (not installed: {module.__file__})"


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _machine(repeats: int, quick: bool) -> list[str]:
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = []
    if len(affinity) == 1:
        pinned = f"pinned to CPU {affinity[0]}"
    else:
        pinned = "NOT pinned (--no-pin, or taskset unavailable): per-call numbers are noisier"
    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load average unknown"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"- date: {now}",
        f"- machine: {_cpu_model()}, {os.cpu_count()} cores, {pinned}, {load}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        f"- asgiref {_version('asgiref')}, asgibridge {_version('asgibridge')} "
        f"(git {_git_revision()}), a2wsgi {_version('a2wsgi')}",
        f"- {repeats} interleaved batches per side and row, median kept"
        + ("; --quick (short batches: a smoke test, not a measurement)" if quick else ""),
    ]


def _table(module: ModuleType, results: list[_harness.Result], broken: list[_harness.Row]) -> str:
    """The harness table, with the suite's ungraded lines under their rows and failed rows."""
    extra: dict[str, list[str]] = {}
    hook = getattr(module, "extra_lines", None)
    if callable(hook):
        extra = hook(results)
    lines = _harness.table(results).splitlines()
    header, body = lines[:2], lines[2:]
    out = list(header)
    for result, line in zip(results, body, strict=True):
        out.append(line)
        out.extend(extra.get(result.row.name, []))
    out.extend(
        f"| {row.name} | - | - | - | <= {row.goal:.2f}x | FAILED (see stderr) |" for row in broken
    )
    return "\n".join(out)


def _run_suite(name: str, repeats: int) -> tuple[str, list[_harness.Result], list[str]]:
    """Import and run one suite: (its table, its results, what failed in it).

    Rows run one at a time so that one broken row does not hide the others.
    """
    print(f"== {name}", file=sys.stderr, flush=True)
    try:
        module = importlib.import_module(f"bench_{name}")
    except Exception:
        print(f"run.py: suite {name!r} failed to import:", file=sys.stderr)
        traceback.print_exc()
        return "FAILED to import (see stderr)", [], [f"{name} (import)"]
    rows = getattr(module, "ROWS", None)
    if rows is None:
        print(f"run.py: bench_{name}.py defines no ROWS; skipped", file=sys.stderr)
        return "", [], []
    results: list[_harness.Result] = []
    broken: list[_harness.Row] = []
    for row in rows:
        try:
            results += _harness.run_rows([row], repeats)
        except Exception:  # report it and keep measuring the other rows
            print(f"run.py: row {row.name!r} of suite {name!r} failed:", file=sys.stderr)
            traceback.print_exc()
            broken.append(row)
    return _table(module, results, broken), results, [f"{name}: {row.name}" for row in broken]


def _list(suites: dict[str, Path]) -> int:
    for name in suites:
        module = importlib.import_module(f"bench_{name}")
        rows = getattr(module, "ROWS", None)
        print(name if rows is not None else f"{name} (no ROWS: runs standalone only)")
        for row in rows or []:
            print(f"  {row.name}  (goal <= {row.goal:.2f}x, {row.unit})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suites; returns the process exit status (see the module docstring)."""
    args = _parse(argv)
    suites = _discover(args.only)
    if args.list:
        return _list(suites)
    if not args.no_pin:
        _reexec_pinned()
    if args.quick:
        os.environ[QUICK_ENV] = "1"
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)

    report = ["# asgibridge / asgiref benchmarks", "", *_machine(repeats, args.quick), ""]
    failed: list[str] = []
    missed: list[str] = []
    for name in suites:
        table, results, broken = _run_suite(name, repeats)
        if table:
            report += [f"## {name}", "", table, ""]
        failed += broken
        missed += [
            f"{name}: {r.row.name} ({r.ratio:.2f}x, goal <= {r.row.goal:.2f}x)"
            for r in results
            if not r.met
        ]
    summary = f"goals missed: {len(missed)}" + "".join(f"\n- {m}" for m in missed)
    if failed:
        summary += f"\nfailed to run: {len(failed)}" + "".join(f"\n- {f}" for f in failed)
    report.append(summary)
    text = "\n".join(report) + "\n"
    sys.stdout.write(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if failed or (args.check and missed):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

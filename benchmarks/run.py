"""Run the benchmark suites and print asgibridge's speed beside asgiref's as a markdown table.

Usage::

    python benchmarks/run.py [--only bridge,local,wsgi] [--repeats N] [--quick]
                             [--markdown FILE] [--check] [--no-pin] [--list]
                             [--python 3.11,3.14 --python /path/to/python ...]

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
5. Other Pythons. With ``--python`` (repeatable, comma-separated; a path or a
   version ``X.Y``, resolved by ``_pythons.py``) this process measures nothing
   itself: it pins itself, then runs ``run.py`` once per interpreter, one after
   the other, in a subprocess (which inherits the pinning), with this
   checkout's ``src/`` first on ``PYTHONPATH``. Each child writes its results to
   a JSON file (``--json``, internal); the report is the machine, then a summary
   table (each row's ratio on each Python), then each child's own report under
   a ``## Python X.Y.Z`` heading. Exit status: 1 if any child's would be 1, or
   if an interpreter could not be found or prepared.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
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
import _pythons  # noqa: E402

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
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PATH_OR_VERSION",
        help="run the suites on this interpreter (a path, or X.Y: pyenv, pythonX.Y, "
        "get-python); repeatable and comma-separated; one table per Python",
    )
    parser.add_argument(
        "--venv-dir",
        type=Path,
        default=None,
        help=f"where --python keeps the venvs it makes (default {_pythons.default_venv_dir()})",
    )
    parser.add_argument("--json", metavar="FILE", help=argparse.SUPPRESS)  # for --python
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


def _child_args(args: argparse.Namespace) -> list[str]:
    """The options a ``--python`` child gets (all but --python, --markdown, --venv-dir)."""
    out = []
    if args.only:
        out += ["--only", args.only]
    if args.repeats is not None:
        out += ["--repeats", str(args.repeats)]
    out += [flag for flag, on in (("--quick", args.quick), ("--check", args.check)) if on]
    return [*out, "--no-pin"]  # the parent pinned itself already (children inherit it)


def _run_child(python: str, args: argparse.Namespace) -> tuple[int, str, list[dict[str, object]]]:
    """Run the suites in ``python``: (exit status, its report, its results)."""
    env = dict(os.environ)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory() as tmp:
        results_file = Path(tmp) / "results.json"
        command = [python, str(HERE / "run.py"), *_child_args(args), "--json", str(results_file)]
        child = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
        results = json.loads(results_file.read_text()) if results_file.exists() else []
    return child.returncode, child.stdout, results


def _summary(per_python: list[tuple[str, list[dict[str, object]]]]) -> list[str]:
    """One line per row: its goal and its ratio on each Python (a miss is marked)."""
    rows: dict[tuple[object, object], dict[str, str]] = {}
    goals: dict[tuple[object, object], object] = {}
    for label, results in per_python:
        for r in results:
            key = (r["suite"], r["row"])
            goals[key] = r["goal"]
            mark = "" if r["met"] else " MISSED"
            rows.setdefault(key, {})[label] = f"{float(r['ratio']):.2f}x{mark}"  # type: ignore[arg-type]
    labels = [label for label, _ in per_python]
    if not labels:
        return ["No Python ran (see below)."]
    lines = [
        "| suite | measure | goal | " + " | ".join(labels) + " |",
        "|---|---|---|" + "---|" * len(labels),
    ]
    for key, ratios in rows.items():
        cells = " | ".join(ratios.get(label, "-") for label in labels)
        lines.append(f"| {key[0]} | {key[1]} | <= {float(goals[key]):.2f}x | {cells} |")  # type: ignore[arg-type]
    return lines


def _main_pythons(args: argparse.Namespace) -> int:
    """``--python``: run the suites once per interpreter and merge the reports."""
    if not args.no_pin:
        _reexec_pinned()
    venv_dir = args.venv_dir or _pythons.default_venv_dir()
    machine = _machine(0, args.quick)[:2]  # date; CPU, pinning and load at the start
    status = 0
    per_python: list[tuple[str, list[dict[str, object]]]] = []
    sections: list[str] = []
    for spec in _pythons.split_specs(args.python):
        try:
            python = _pythons.resolve(spec, venv_dir)
        except _pythons.PythonNotFound as exc:
            print(f"run.py: --python {spec}: {exc}", file=sys.stderr)
            sections += [f"## Python {spec}", "", f"NOT RUN: {exc}", ""]
            status = 1
            continue
        print(f"=== Python {spec}: {python}", file=sys.stderr, flush=True)
        code, child_report, results = _run_child(python, args)
        version = _pythons.full_version(python) or spec
        per_python.append((version, results))
        body = child_report.splitlines()
        if body and body[0].startswith("# "):  # the child's title: ours says it
            body = body[1:]
        body = [("#" + line if line.startswith("## ") else line) for line in body]
        sections += [f"## Python {version} ({python})", "", *"\n".join(body).strip().splitlines()]
        sections.append("")
        if code != 0:
            status = 1
    report = ["# asgibridge / asgiref benchmarks on several Pythons", ""]
    report += machine
    report += ["", "## Ratios (asgibridge / asgiref, same process) per Python", ""]
    report += [*_summary(per_python), "", *sections]
    text = "\n".join(report) + "\n"
    sys.stdout.write(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suites; returns the process exit status (see the module docstring)."""
    args = _parse(argv)
    suites = _discover(args.only)
    if args.list:
        return _list(suites)
    if args.python:
        return _main_pythons(args)
    if not args.no_pin:
        _reexec_pinned()
    if args.quick:
        os.environ[QUICK_ENV] = "1"
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)

    report = ["# asgibridge / asgiref benchmarks", "", *_machine(repeats, args.quick), ""]
    failed: list[str] = []
    missed: list[str] = []
    records: list[dict[str, object]] = []
    for name in suites:
        table, results, broken = _run_suite(name, repeats)
        records += [
            {
                "suite": name,
                "row": r.row.name,
                "goal": r.row.goal,
                "unit": r.row.unit,
                "asgiref": r.times["asgiref"],
                "asgibridge": r.times["asgibridge"],
                "ratio": r.ratio,
                "met": r.met,
            }
            for r in results
        ]
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
    if args.json:
        Path(args.json).write_text(json.dumps(records))
    if failed or (args.check and missed):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

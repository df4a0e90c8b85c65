"""The documentation site: it builds warning-free, and every example in it runs.

Three checks, so no example can rot:

1. ``mkdocs build --strict`` builds the site into a temporary directory (skipped only when
   mkdocs, mkdocs-material or mkdocstrings are not installed).
2. Every ```` ```python ```` block in ``docs/**/*.md`` and ``README.md`` runs in a fresh
   interpreter (``python -c``), with a deadline, from an empty working directory, and must exit
   with status 0. A block that cannot run (it needs a server, the network, a project that does
   not exist) is skipped by putting this line right above its fence, with the reason::

       <!-- docs-test: skip: needs a running server -->

   The comment is invisible on the built site and on GitHub. Blocks in pages this test's owner
   does not maintain that are fragments today are listed in `FRAGMENTS` with the reason.
3. The doctest examples of every public function and class (and their methods) of the public
   modules run with `doctest`, each in the globals of the module that defines it.

A fourth check reports public functions and classes whose docstring has no example: it skips,
listing them, while any lacks one, and enforces the rule once none does.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK_TIMEOUT = 40.0  # seconds per code block: under pytest's 60 s per-test timeout
BUILD_TIMEOUT = 50.0

PUBLIC_MODULES = (
    "asgibridge",
    "asgibridge.sync",
    "asgibridge.iterators",
    "asgibridge.cancellation",
    "asgibridge.local",
    "asgibridge.wsgi",
    "asgibridge.asgi_to_wsgi",
    "asgibridge.file_wrapper",
    "asgibridge.server",
    "asgibridge.testing",
    "asgibridge.testclient",
    "asgibridge.typing",
    "asgibridge.asgi_types",
    "asgibridge.compatibility",
    "asgibridge.timeout",
    "asgibridge.current_thread_executor",
    "asgibridge.exceptions",
    "asgibridge.lifespan",
    "asgibridge.validation",
    "asgibridge.instrumentation",  # checked once it exists
)

_SKIP_MARK = re.compile(r"^<!--\s*docs-test:\s*skip:\s*(?P<reason>.+?)\s*-->$")
_FENCE = re.compile(r"^```(?P<info>[^`]*)$")

# Blocks in pages maintained by others that are fragments for now: (page, a line of the block,
# reason). Empty: every block runs or carries a `docs-test: skip` comment with its reason.
FRAGMENTS: tuple[tuple[str, str, str], ...] = ()

# Docstring examples known to be wrong, reported to the module's owner with the fix: they run,
# and are expected to fail until fixed (then they pass as XPASS; remove the entry).
KNOWN_WRONG_EXAMPLES: dict[str, str] = {}


# -- 1. the site builds ------------------------------------------------------------------------


def _have_site_tools() -> bool:
    names = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
    try:
        return all(importlib.util.find_spec(name) is not None for name in names)
    except ModuleNotFoundError:  # a parent package of a dotted name is missing
        return False


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    if not _have_site_tools():
        pytest.skip("mkdocs-material and mkdocstrings[python] are not installed")
    # No --quiet: it drops warnings before --strict can count them.
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)]
    return subprocess.run(
        command,
        check=False,
        cwd=project,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )


def test_strict_build_fails_on_a_warning(tmp_path: Path) -> None:
    # Guards the command itself: a broken link must fail it.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("[gone](missing.md)\n", encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text("site_name: probe\n", encoding="utf-8")
    result = _build(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "missing.md" in result.stdout + result.stderr


def test_strict_build_fails_on_a_missing_nav_page(tmp_path: Path) -> None:
    # A page the nav lists but nobody wrote (or somebody deleted) fails the build.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# probe\n", encoding="utf-8")
    nav = "nav:\n  - Home: index.md\n  - Gone: gone.md\n"
    (tmp_path / "mkdocs.yml").write_text(f"site_name: probe\n{nav}", encoding="utf-8")
    result = _build(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "gone.md" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, built once (strict) for the tests that read it."""
    site = tmp_path_factory.mktemp("docs") / "site"
    result = _build(ROOT, site)
    assert result.returncode == 0, result.stdout + result.stderr
    return site


def test_site_builds_strict(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "reference" / "sync" / "index.html").is_file()


# Pages the documentation must have (issue 9, and one per guide added since), by nav target.
REQUIRED_PAGES = (
    "index.md",
    "quickstart.md",
    "migrating.md",
    "django.md",
    "wsgi.md",
    "testing.md",
    "lifespan.md",
    "validation.md",
    "diagnostics.md",
    "cancellation.md",
    "streaming.md",
    "gevent.md",
    "instrumentation.md",
    "design.md",
    "benchmarks.md",
)


def _nav_targets() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return re.findall(r"^\s*- (?:[^:\n]+: )?(\S+\.md)\s*$", nav, flags=re.MULTILINE)


def test_nav_lists_every_required_page_and_every_page_is_in_the_nav() -> None:
    targets = _nav_targets()
    for page in REQUIRED_PAGES:
        assert page in targets, f"{page} is not in the nav of mkdocs.yml"
        assert (ROOT / "docs" / page).is_file(), f"docs/{page} does not exist"
    for module_name in PUBLIC_MODULES:
        page = f"reference/{module_name.rpartition('.')[2] or module_name}.md"
        assert page in targets, f"no API reference page for {module_name} in the nav"
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages <= set(targets), f"pages missing from the nav: {sorted(pages - set(targets))}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_reference_page_has_every_public_name(module_name: str, site: Path) -> None:
    module = importlib.import_module(module_name)
    short = module_name.rpartition(".")[2] or module_name
    html = (site / "reference" / short / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([^"]+)"', html))
    missing = [name for name in module.__all__ if f"{module_name}.{name}" not in anchors]
    assert not missing, f"reference/{short}.md renders no entry for {missing}"


# -- 2. the code blocks run --------------------------------------------------------------------


def _doc_files() -> list[Path]:
    return [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]


def _python_blocks(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """Yield (line of the fence, code, skip reason or None) for each python block of a page."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        words = match["info"].split()
        if words[:1] == ["python"]:
            previous = next((ln for ln in reversed(lines[:index]) if ln.strip()), "")
            marked = _SKIP_MARK.match(previous.strip())
            yield index + 1, "\n".join(lines[index + 1 : end]), marked and marked["reason"]
        index = end + 1


def _fragment_reason(relative: str, code: str) -> str | None:
    for page, needle, reason in FRAGMENTS:
        if page == relative and needle in code:
            return f"{reason} (listed in FRAGMENTS)"
    return None


def _block_params() -> list[Any]:
    params = []
    for path in _doc_files():
        relative = path.relative_to(ROOT).as_posix()
        for line, code, marked in _python_blocks(path):
            reason = marked or _fragment_reason(relative, code)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(code, id=f"{relative}:{line}", marks=marks))
    return params


@pytest.mark.parametrize("code", _block_params())
def test_doc_code_block_runs(code: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "error", "ASGIBRIDGE_HANG_TIMEOUT": "20"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    assert result.returncode == 0, f"exit status {result.returncode}\n{result.stderr}"


def test_skip_marker_is_recognised(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: skip: needs a server -->\n```python\nserve()\n```\n\n"
        "```python\nx = 1\n```\n```sh\nls\n```\n",
        encoding="utf-8",
    )
    assert list(_python_blocks(page)) == [(2, "serve()", "needs a server"), (6, "x = 1", None)]


# -- 3. the docstring examples run -------------------------------------------------------------


def _public_objects() -> Iterator[tuple[str, Any]]:
    """Yield (qualified public name, object) for each public function and class, once each."""
    seen: set[int] = set()
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # an optional public module that does not exist yet
            raise
        for name in module.__all__:
            try:
                obj = getattr(module, name)
            except ModuleNotFoundError:  # a lazy name whose optional dependency is missing
                continue
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            yield f"{module_name}.{name}", obj


def _doctests() -> list[Any]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    params = []
    for public_name, obj in _public_objects():
        globs = dict(vars(sys.modules[obj.__module__]))
        for test in finder.find(obj, public_name, module=False, globs=globs):
            if not test.examples:
                continue  # a docstring without an example: reported by the last test
            marks = []
            if all(example.options.get(doctest.SKIP) for example in test.examples):
                marks = [pytest.mark.skip(reason="every example is marked doctest: +SKIP")]
            elif test.name in KNOWN_WRONG_EXAMPLES:
                marks = [pytest.mark.xfail(reason=KNOWN_WRONG_EXAMPLES[test.name], strict=False)]
            params.append(pytest.param(test, id=test.name, marks=marks))
    return params


@pytest.mark.parametrize("test", _doctests())
def test_docstring_examples_run(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    output: list[str] = []
    result = runner.run(test, out=output.append, clear_globs=True)
    assert result.attempted > 0
    assert result.failed == 0, "".join(output)


def _lacks_example(obj: Any) -> bool:
    if not obj.__module__.startswith("asgibridge"):
        # A re-export of the standard library's own object (on 3.12+, `asgibridge.sync`'s
        # iscoroutinefunction / markcoroutinefunction are inspect's, as in asgiref): its
        # docstring is not ours to write; asgibridge's own fallback on 3.10/3.11 is checked.
        return False
    doc = inspect.getdoc(obj) or ""
    return ">>>" not in doc and "Example" not in doc


def test_public_objects_have_examples() -> None:
    missing = [name for name, obj in _public_objects() if _lacks_example(obj)]
    if missing:
        pytest.skip(f"{len(missing)} public objects lack a docstring example: {missing}")
    assert not missing


# -- 4. the docstrings document parameters and return values -----------------------------------

# Public objects whose docstring lacks a section, in modules other helpers maintain: reported to
# their owners. An object listed here is still checked once fixed (the entry is then stale and
# harmless); an object not listed that lacks a section fails the test.
KNOWN_SECTION_GAPS: dict[str, str] = {}


def _documented_parameters(obj: Any) -> list[str]:
    """The parameters a docstring must describe (none for classes built by the library)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    if inspect.isclass(obj) and target is object.__init__:
        return []
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [p for p in signature.parameters if p not in ("self", "cls")]


def _missing_sections(obj: Any) -> list[str]:
    if inspect.isclass(obj) and (
        issubclass(obj, BaseException)  # (message, hint): documented once, on AsgiBridgeError
        or getattr(obj, "_is_protocol", False)  # typing.Protocol: never instantiated
        or hasattr(obj, "__required_keys__")  # TypedDict: its keys are its documentation
    ):
        return []
    doc = inspect.getdoc(obj) or ""
    missing = []
    if _documented_parameters(obj) and not re.search(r"^(Args|Attributes):$", doc, re.M):
        missing.append("Args")
    if inspect.isfunction(obj):
        returns = inspect.signature(obj).return_annotation
        if returns not in (None, "None", inspect.Signature.empty) and not re.search(
            r"^(Returns|Yields):$", doc, re.M
        ):
            missing.append("Returns")
    return missing


def test_public_docstrings_have_args_and_returns() -> None:
    gaps = {
        name: ", ".join(missing)
        for name, obj in _public_objects()
        if obj.__module__.startswith("asgibridge") and (missing := _missing_sections(obj))
    }
    unexpected = {name: gap for name, gap in gaps.items() if name not in KNOWN_SECTION_GAPS}
    assert not unexpected, f"public docstrings without their sections: {unexpected}"

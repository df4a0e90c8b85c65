"""The spec data: internal consistency, facts from the spec text, and the sans-I/O rule."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from asgibridge._asgi.spec import tables as spec
from asgibridge._asgi.spec.model import Key
from asgibridge._asgi.validator.checks import KIND_CHECKS, VALUE_CHECKS
from asgibridge._asgi.validator.headers import HEADER_CHECKS

ASGI_DIR = Path(spec.__file__).parents[1]
# The guard wraps live apps (it is the validator's middleware, not its state machines).
SANS_IO = sorted(
    p
    for p in [
        *ASGI_DIR.joinpath("spec").glob("*.py"),
        *ASGI_DIR.joinpath("validator").glob("*.py"),
    ]
    if p.name != "guard.py"
)
FORBIDDEN = {"asyncio", "threading", "concurrent", "socket", "selectors", "anyio", "trio"}


def _all_keys() -> list[tuple[str, Key]]:
    found: list[tuple[str, Key]] = []

    def walk(owner: str, keys: tuple[Key, ...]) -> None:
        for key in keys:
            found.append((owner, key))
            walk(f"{owner}.{key.name}", key.fields)

    for scope in spec.SCOPES.values():
        walk(scope.type, scope.keys)
    for event in spec.EVENTS.values():
        walk(event.type, event.keys)
    walk("tls", spec.EXTENSIONS["tls"].fields)
    return found


def test_every_kind_and_named_check_is_implemented() -> None:
    for owner, key in _all_keys():
        assert key.kind in KIND_CHECKS, (owner, key.name)
        for check in key.checks:
            assert check in VALUE_CHECKS or check in HEADER_CHECKS, (owner, check)
        assert not (key.fields and key.kind != "dict"), (owner, key.name)


def test_events_belong_to_their_protocol_and_name_their_extension() -> None:
    for etype, event in spec.EVENTS.items():
        assert etype == event.type
        assert etype.startswith(f"{event.protocol}.")
        assert event.sender in ("app", "server")
        assert event.keys[0].name == "type"
        if event.extension is not None:
            assert etype in spec.EXTENSIONS[event.extension].events
    for ext in spec.EXTENSIONS.values():
        for etype in ext.events:
            assert spec.EVENTS[etype].extension == ext.name


def test_every_extension_of_the_spec_is_described() -> None:
    assert set(spec.EXTENSIONS) == {
        "websocket.http.response",
        "http.response.push",
        "http.response.zerocopysend",
        "http.response.pathsend",
        "http.response.early_hint",
        "http.response.trailers",
        "http.response.debug",
        "tls",
    }


def test_sections_point_into_the_spec_site() -> None:
    sections = [s.section for s in spec.SCOPES.values()]
    sections += [e.section for e in spec.EVENTS.values()]
    for section in sections:
        assert section.url.startswith("https://asgi.readthedocs.io/en/latest/")
        assert "#" in section.url
        assert section.title in str(section)


def _key(owner: dict[str, Key] | tuple[Key, ...], name: str) -> Key:
    keys = owner if isinstance(owner, tuple) else tuple(owner.values())
    return next(k for k in keys if k.name == name)


@pytest.mark.parametrize(
    ("where", "name", "required", "default", "nullable"),
    [
        # www spec 2.5, "HTTP Connection Scope"
        ("http", "scheme", False, "http", False),
        ("http", "query_string", True, None, False),
        ("http", "root_path", False, "", False),
        ("http", "client", False, None, True),
        # www spec 2.5, "Websocket Connection Scope"
        ("websocket", "http_version", False, "1.1", False),
        ("websocket", "query_string", False, b"", True),
        ("websocket", "subprotocols", False, (), False),
        # events
        ("http.request", "more_body", False, False, False),
        ("http.response.start", "status", True, None, False),
        ("http.response.start", "trailers", False, False, False),
        ("websocket.disconnect", "code", True, None, False),
        ("websocket.close", "code", False, 1000, False),
        ("websocket.close", "reason", False, "", True),
        ("websocket.accept", "subprotocol", False, None, True),
        ("lifespan.startup.failed", "message", False, "", False),
        ("http.response.zerocopysend", "file", True, None, False),
        ("http.response.pathsend", "path", True, None, False),
    ],
)
def test_required_optional_and_defaults_follow_the_spec_text(
    where: str, name: str, required: bool, default: object, nullable: bool
) -> None:
    keys = spec.SCOPES[where].keys if where in spec.SCOPES else spec.EVENTS[where].keys
    key = _key(keys, name)
    assert (key.required, key.default, key.nullable) == (required, default, nullable)


def test_versioned_keys_carry_the_version_that_added_them() -> None:
    assert _key(spec.EVENTS["websocket.accept"].keys, "headers").since == "2.1"
    assert _key(spec.EVENTS["websocket.close"].keys, "reason").since == "2.3"
    assert _key(spec.EVENTS["websocket.disconnect"].keys, "reason").since == "2.5"
    assert spec.SPEC_VERSIONS["http"] == spec.KNOWN_SPEC_VERSIONS["http"][-1]


def test_events_for_splits_by_sender() -> None:
    app = spec.events_for("websocket", "app")
    server = spec.events_for("websocket", "server")
    assert set(app).isdisjoint(server)
    assert set(app) | set(server) == {
        t for t, e in spec.EVENTS.items() if e.protocol == "websocket"
    }
    with pytest.raises(KeyError):
        spec.events_for("smtp", "app")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2.3", (2, 3)), ("3", (3, 0)), (None, (2, 0)), ("x.y", (2, 0)), (2.3, (2, 0))],
)
def test_parse_version(text: object, expected: tuple[int, int]) -> None:
    assert spec.parse_version(text, (2, 0)) == expected


@pytest.mark.parametrize("path", SANS_IO, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spec_and_validator_modules_import_no_io_machinery(path: Path) -> None:
    tree = ast.parse(path.read_text())
    package = ["asgibridge", "_asgi", path.parent.name]
    allowed = ("asgibridge._asgi.spec", "asgibridge._asgi.validator", "asgibridge._errors")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: only other sans-I/O modules or the errors leaf
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
                assert target.startswith(allowed), (path.name, target)
                assert target != "asgibridge._asgi.validator.guard", (path.name, target)
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, (path.name, name)


def test_validator_runs_in_a_process_without_asyncio_or_threading() -> None:
    # Load asgibridge._asgi.validator.machines without the package __init__ files (which
    # pull in the runtime), then check what got imported.
    src = Path(spec.__file__).parents[2]
    code = f"""
import sys, types
for name, path in (("asgibridge", {str(src / "asgibridge")!r}),
                   ("asgibridge._asgi", {str(ASGI_DIR)!r})):
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module
import importlib
v = importlib.import_module("asgibridge._asgi.validator.machines")
validator = v.validator_for({{"type": "lifespan", "asgi": {{"version": "3.0"}}}})
validator.receive({{"type": "lifespan.startup"}})
validator.send({{"type": "lifespan.startup.complete"}})
bad = sorted(m for m in {sorted(FORBIDDEN)!r} if m in sys.modules)
print(",".join(bad) or "clean")
"""
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "clean", out.stdout + out.stderr

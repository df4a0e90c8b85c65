"""asgibridge.typing and asgi_types against the spec data (no drift), asgiref's names, mypy."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest

import asgibridge.asgi_types as extra
import asgibridge.typing as at
from asgibridge._asgi.spec import tables as spec
from asgibridge._asgi.spec.model import Key

if sys.version_info >= (3, 11):
    from typing import get_type_hints, is_typeddict
else:  # 3.10: the TypedDicts come from typing_extensions, so must the introspection
    from typing_extensions import get_type_hints, is_typeddict

CASES = Path(__file__).parent / "typing_cases"

_KIND_TYPES: dict[str, Any] = {
    "str": str,
    "bytes": bytes,
    "int": int,
    "bool": bool,
    "headers": Iterable[tuple[bytes, bytes]],
    "host_port": tuple[str, int],
    "server_addr": tuple[str, int | None],
    "str_iterable": Iterable[str],
    "bytes_iterable": Iterable[bytes],
    "file": extra.SupportsFileno,
}


def _typed_dicts() -> list[type]:
    return [
        obj
        for module in (at, extra)
        for name in module.__all__
        if isinstance(obj := getattr(module, name), type) and is_typeddict(obj)
    ]


def _type_literal(cls: type) -> str | None:
    hint = get_type_hints(cls).get("type")
    if hint is None or get_origin(hint) is not Literal:
        return None
    (value,) = get_args(hint)
    return str(value)


def _variant(cls: type) -> str | None:
    """'bytes' / 'text' for the split WebSocket data events, None otherwise."""
    for suffix in ("Bytes", "Text"):
        if cls.__name__.endswith(f"{suffix}Event") and cls.__name__.startswith("WebSocket"):
            return suffix.lower()
    return None


def _assert_matches(cls: type, keys: tuple[Key, ...]) -> None:
    """Required/optional sets and each key's value type agree with the spec keys."""
    spec_keys = {k.name: k for k in keys}
    hints = get_type_hints(cls)
    variant = _variant(cls)
    assert set(hints) == set(spec_keys), cls.__name__
    if variant is None:
        required = {name for name, k in spec_keys.items() if k.required}
        assert cls.__required_keys__ == required, cls.__name__  # type: ignore[attr-defined]
    else:
        assert cls.__required_keys__ == {"type", variant}, cls.__name__  # type: ignore[attr-defined]
    for name, key in spec_keys.items():
        hint = hints[name]
        if name == "type":
            continue
        if variant is not None and name in ("bytes", "text"):
            expected: Any = _KIND_TYPES[key.kind] if name == variant else type(None)
            assert hint == expected, f"{cls.__name__}.{name}"
            continue
        if key.kind == "dict":
            _assert_dict(cls, name, hint, key)
            continue
        if get_origin(hint) is Literal:  # narrowed to the values the spec lists
            assert set(get_args(hint)) == set(key.choices), f"{cls.__name__}.{name}"
            continue
        expected = _KIND_TYPES[key.kind]
        if key.nullable:
            expected = expected | None
        assert hint == expected, f"{cls.__name__}.{name}: {hint} != {expected}"


def _assert_dict(cls: type, name: str, hint: Any, key: Key) -> None:
    if key.fields:
        assert is_typeddict(hint), f"{cls.__name__}.{name}"
        _assert_matches(hint, key.fields)
    else:
        assert get_origin(hint) is dict, f"{cls.__name__}.{name}"


def test_every_event_and_scope_typeddict_matches_the_spec_data() -> None:
    covered: set[str] = set()
    for cls in _typed_dicts():
        literal = _type_literal(cls)
        if literal is None:
            continue
        if literal in spec.SCOPES:
            _assert_matches(cls, spec.SCOPES[literal].keys)
        else:
            _assert_matches(cls, spec.EVENTS[literal].keys)
        covered.add(literal)
    assert covered == set(spec.SCOPES) | set(spec.EVENTS)


def test_tls_extension_typeddict_matches_the_tls_spec_data() -> None:
    _assert_matches(extra.TLSExtension, spec.EXTENSIONS["tls"].fields)


@pytest.mark.parametrize(
    ("union", "sender"), [(at.ASGISendEvent, "app"), (at.ASGIReceiveEvent, "server")]
)
def test_send_and_receive_unions_hold_exactly_the_spec_events(union: Any, sender: str) -> None:
    members = get_args(union)
    literals = {_type_literal(member) for member in members}
    expected = {t for t, event in spec.EVENTS.items() if event.sender == sender}
    assert literals == expected
    # The data events are there as their precise variants, never the general form.
    assert at.WebSocketSendEvent not in members
    assert at.WebSocketReceiveEvent not in members


def test_asgiref_typing_names_are_all_kept() -> None:
    asgiref_typing = pytest.importorskip("asgiref.typing")
    assert set(asgiref_typing.__all__) <= set(at.__all__)
    # The class asgiref has but does not export is public here.
    assert "HTTPResponseDebugEvent" in at.__all__


def test_general_websocket_events_stay_constructible_like_asgiref() -> None:
    event = at.WebSocketReceiveEvent(type="websocket.receive", bytes=None, text="hi")
    assert event == {"type": "websocket.receive", "bytes": None, "text": "hi"}


_ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: ")


def test_mypy_accepts_valid_snippets_and_rejects_each_invalid_line(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    stdout, stderr, _ = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", str(tmp_path), str(CASES)]
    )
    assert not stderr, stderr
    errors: dict[str, set[int]] = {}
    for line in stdout.splitlines():
        if match := _ERROR.match(line):
            errors.setdefault(Path(match["file"]).name, set()).add(int(match["line"]))
    files = sorted(CASES.glob("*.py"))
    assert any(f.name.startswith("ok_") for f in files)
    assert any(f.name.startswith("bad_") for f in files)
    for path in files:
        marked, unmarked = _statements(path)
        got = errors.get(path.name, set())
        if path.name.startswith("ok_"):
            assert not marked
        else:
            assert marked, f"{path.name} marks no statement"
        for lines in marked:  # every invalid statement is rejected
            assert got & lines, (path.name, min(lines), stdout)
        for lines in unmarked:  # and nothing else is
            assert not got & lines, (path.name, sorted(got & lines), stdout)


def _statements(path: Path) -> tuple[list[set[int]], list[set[int]]]:
    """Line sets of the top-level statements marked ``# E`` (expected to fail) and the rest.

    Statements, not lines: the formatter may spread one message over several lines.
    """
    text = path.read_text().splitlines()
    marked: list[set[int]] = []
    unmarked: list[set[int]] = []
    for node in ast.parse("\n".join(text)).body:
        lines = set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        is_marked = any(text[n - 1].rstrip().endswith("# E") for n in lines)
        (marked if is_marked else unmarked).append(lines)
    return marked, unmarked

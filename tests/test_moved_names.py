"""asgibridge's additions moved out of asgiref-named modules still import from the old place.

They warn (DeprecationWarning naming the new module), resolve to the very same
object, and stay out of the old module's ``__all__`` and ``dir()`` (asgiref's).
"""

from __future__ import annotations

import importlib

import pytest

MOVES = [
    ("asgibridge.sync", "check_cancelled", "asgibridge.cancellation"),
    ("asgibridge.sync", "time_left", "asgibridge.cancellation"),
    ("asgibridge.sync", "sync_iter_to_async", "asgibridge.iterators"),
    ("asgibridge.sync", "async_iter_to_sync", "asgibridge.iterators"),
    ("asgibridge.wsgi", "AsgiToWsgi", "asgibridge.asgi_to_wsgi"),
    ("asgibridge.wsgi", "FileWrapper", "asgibridge.file_wrapper"),
    ("asgibridge.testing", "TestClient", "asgibridge.testclient"),
    ("asgibridge.testing", "WebSocketDenied", "asgibridge.testclient"),
    ("asgibridge.typing", "TLSExtension", "asgibridge.asgi_types"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVES)
def test_a_moved_name_still_imports_from_its_old_module(old: str, name: str, new: str) -> None:
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=new):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
    assert name not in module.__all__
    assert name not in dir(module)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    module = importlib.import_module("asgibridge.sync")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = module.nope


@pytest.mark.parametrize(("old", "name", "new"), MOVES)
def test_the_warning_names_the_line_that_reads_the_old_name(old: str, name: str, new: str) -> None:
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=new) as caught:
        getattr(module, name)
    assert [w.filename for w in caught] == [__file__]

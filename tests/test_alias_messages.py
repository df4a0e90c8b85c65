"""asgiref's messages: where asgiref raises or warns, the same built-in class and ``str()``.

asgibridge's advice goes into a PEP 678 note.

The situations are in ``asgiref_situations.py``, run once on the real asgiref
and once on asgibridge under ``install_as_asgiref()``, each in a fresh
interpreter; each situation is then compared on its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import traceback
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from asgibridge._activation.install import ASGIREF_VERSION
from asgibridge.exceptions import AsgiBridgeError, SyncToAsyncTypeError
from asgibridge.sync import sync_to_async

SITUATIONS = Path(__file__).with_name("asgiref_situations.py")
TIMEOUT = 60.0
# Every situation asgiref_situations.py runs (a test checks the list is complete).
SITUATION_NAMES = (
    "async_to_sync() inside a running event loop",
    "sync_to_async(coroutine function)",
    "sync_to_async(not callable)",
    "SyncToAsync(thread_sensitive=True, executor=...)",
    "async_to_sync(plain function)",
    "CurrentThreadExecutor.run_until_future from another thread",
    "CurrentThreadExecutor.submit from its own thread",
    "CurrentThreadExecutor.submit after it quit",
    "Local subclass",
    "Local()._data = ...",
    "ThreadSensitiveContext(executor=...) entered twice",
    "ThreadSensitiveContext(executor=...) entered again",
    "a task outlives its ThreadSensitiveContext(executor=...)",
    "single thread executor already in use",
    "StatelessServer.handle not overridden",
    "StatelessServer.application_send not overridden",
    "asgiref.timeout.timeout outside a task",
    "asgiref.timeout.timeout expires",
    "asgiref.timeout.timeout(loop=...) warnings",
    "WsgiToAsgi: start_response called twice without exc_info",
    "WsgiToAsgi: a scope of an unknown type",
    "ApplicationCommunicator.receive_output timeout",
    "ApplicationCommunicator.send_input after a receive_output timeout",
    "ApplicationCommunicator.receive_output after the app returned",
    "ApplicationCommunicator.wait on a crashed application",
)
# Situations where asgibridge adds advice (checked to arrive as a note, not in str()).
ADVISED = (
    "async_to_sync() inside a running event loop",
    "sync_to_async(coroutine function)",
    "CurrentThreadExecutor.submit after it quit",
    "ThreadSensitiveContext(executor=...) entered again",
    "WsgiToAsgi: start_response called twice without exc_info",
    "ApplicationCommunicator.receive_output timeout",
)


def run_side(side: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(SITUATIONS), side],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@cache
def sides() -> tuple[dict[str, Any], dict[str, Any]]:
    real = run_side("asgiref")
    if real["__version__"] != ASGIREF_VERSION:
        pytest.skip(
            f"the alias gives asgiref {ASGIREF_VERSION}'s messages; asgiref "
            f"{real['__version__']} is installed on this Python (3.13 needs Python 3.11+)"
        )
    return real, run_side("bridge")


def _without_notes(outcome: Any) -> Any:
    if isinstance(outcome, dict):
        return {key: value for key, value in outcome.items() if key != "notes"}
    return outcome


def test_the_version_is_asgirefs() -> None:
    real, bridge = sides()
    assert bridge["__version__"] == real["__version__"] == ASGIREF_VERSION


def test_every_situation_is_compared() -> None:
    real, bridge = sides()
    assert set(real) == set(bridge) == {"__version__", *SITUATION_NAMES}
    # asgiref raises (or warns) in each: the comparison is never of two "nothing happened".
    assert [name for name in SITUATION_NAMES if not real[name]] == []


@pytest.mark.parametrize("situation", SITUATION_NAMES)
def test_the_same_class_and_message_as_asgiref(situation: str) -> None:
    real, bridge = sides()
    assert situation in real
    assert _without_notes(bridge[situation]) == _without_notes(real[situation])


@pytest.mark.parametrize("situation", ADVISED)
def test_asgibridges_advice_is_a_note(situation: str) -> None:
    _, bridge = sides()
    notes = bridge[situation]["notes"]
    assert len(notes) == 1
    assert notes[0]
    assert notes[0] not in bridge[situation]["str"]


def test_the_hint_is_a_note_shown_in_tracebacks_and_searched_by_match() -> None:
    error = AsgiBridgeError("what happened", "(why it happened). What to do.")
    assert str(error) == "what happened"
    assert error.args == ("what happened",)
    assert error.hint == "(why it happened). What to do."
    assert error.__notes__ == ["(why it happened). What to do."]
    if sys.version_info >= (3, 11):  # 3.10's traceback module does not print notes
        shown = "".join(traceback.format_exception(error))
        assert shown.endswith("AsgiBridgeError: what happened\n(why it happened). What to do.\n")

    async def coroutine_function() -> None:
        pass

    with pytest.raises(SyncToAsyncTypeError, match="instead of wrapping it") as caught:
        sync_to_async(coroutine_function)
    assert str(caught.value) == "sync_to_async can only be applied to sync functions."


def test_an_error_without_a_hint_has_no_notes() -> None:
    error = AsgiBridgeError("only what happened")
    assert str(error) == "only what happened"
    assert not hasattr(error, "__notes__")

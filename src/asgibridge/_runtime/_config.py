"""The runtime's options: their types, ranges, defaults and environment variables.

One table (`OPTIONS`) says, for each option, what values are allowed; both
`asgibridge.configure` and the ``ASGIBRIDGE_*`` environment variables are
checked against it, so a mistake fails where it is made, naming the option
and the allowed range, instead of later and far away (``max(1, "4")`` in the
first pool submit, a serve loop spinning on ``health_interval=0``).

Rules: pure functions over plain data (no state of its own: the values live in
``_state.config``); ``bool`` is not accepted where a number is expected
(``True`` is an ``int`` to Python, never a sensible thread count).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigTypeError, ConfigValueError

__all__ = ("OPTIONS", "Option", "from_environment", "validate")


class Option:
    """One runtime option (read-only by convention).

    Attributes:
        kind: ``"seconds"`` (a positive finite number), ``"count"`` (an int
            >= ``minimum``), ``"choice"`` (one of ``choices``), ``"flag"``
            (a bool; in the environment ``1``/``true``/``yes``/``on`` or
            ``0``/``false``/``no``/``off``) or ``"factory"`` (an event loop
            factory: a callable or a loop name).
        default: the value when neither ``configure`` nor the environment sets it.
        env: the environment variable read at import, or None.
        optional: None is allowed (it turns the feature off).
        minimum: the smallest allowed count.
        choices: the allowed strings of a choice.
    """

    # A plain class: this module loads with the runtime, at every start, and a
    # dataclass (or a NamedTuple, with string annotations) costs about a
    # millisecond to build there, against ten microseconds for this one.
    __slots__ = ("choices", "default", "env", "kind", "minimum", "optional")

    def __init__(
        self,
        kind: str,
        default: Any,
        env: str | None = None,
        *,
        optional: bool = False,
        minimum: int = 1,
        choices: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.default = default
        self.env = env
        self.optional = optional
        self.minimum = minimum
        self.choices = choices

    def describe(self) -> str:
        """The allowed values, for error messages."""
        if self.kind == "factory":
            text = '"asyncio", "uvloop" or a callable returning a new event loop'
        elif self.kind == "seconds":
            text = "a positive number of seconds"
        elif self.kind == "count":
            text = f"an integer >= {self.minimum}"
        elif self.kind == "flag":
            text = "True or False (environment: 1/true/yes/on or 0/false/no/off)"
        else:
            text = " or ".join(repr(choice) for choice in self.choices)
        return f"{text} or None" if self.optional else text


OPTIONS: Mapping[str, Option] = {
    # Seconds a bridge wait may last before it is reported as a hang (None: off).
    "hang_timeout": Option("seconds", None, "ASGIBRIDGE_HANG_TIMEOUT", optional=True),
    # "raise" (BridgeDeadlockError in the waiting caller) or "warn" (one log record).
    "hang_mode": Option("choice", "raise", "ASGIBRIDGE_HANG_MODE", choices=("raise", "warn")),
    # How often a blocked wait wakes up to check that what it waits on is alive.
    "health_interval": Option("seconds", 1.0, "ASGIBRIDGE_HEALTH_INTERVAL"),
    # Upper bound of the thread_sensitive=False pool (anyio's default is 40).
    "max_workers": Option("count", 40, "ASGIBRIDGE_MAX_WORKERS"),
    # Seconds an idle pool or sticky thread lingers before it exits.
    "worker_idle_timeout": Option("seconds", 30.0, "ASGIBRIDGE_WORKER_IDLE_TIMEOUT"),
    # Idle threads each pool (thread_sensitive=False, sticky) keeps for
    # worker_idle_timeout; idle threads beyond them exit after idle_grace
    # (after a burst the thread count falls back fast: memory follows load).
    "max_idle_workers": Option(
        "count", max(2, 2 * (os.cpu_count() or 1)), "ASGIBRIDGE_MAX_IDLE_WORKERS", minimum=0
    ),
    "idle_grace": Option("seconds", 1.0, "ASGIBRIDGE_IDLE_GRACE"),
    # Seconds a persistent async_to_sync loop stays up with no call.
    "loop_idle_timeout": Option("seconds", 30.0, "ASGIBRIDGE_LOOP_IDLE_TIMEOUT"),
    # The event loop the runtime's own loops run (persistent async_to_sync
    # loops, AsyncSingleThreadContext, AsgiToWsgi): None follows the event loop
    # policy (asyncio.new_event_loop); "asyncio" or "uvloop"; or a callable
    # returning a new loop.
    "loop_factory": Option("factory", None, "ASGIBRIDGE_LOOP_FACTORY", optional=True),
    # Seconds the end of an async_to_sync call waits for the tasks it left
    # running to finish after cancelling them, before it warns and returns.
    "leftover_timeout": Option("seconds", 2.0, "ASGIBRIDGE_LEFTOVER_TIMEOUT"),
    # asgiref's loops: each top-level async_to_sync call from a plain thread
    # runs on a new loop (on a new thread), closed before the call returns,
    # instead of the calling thread's persistent loop (for per-loop state
    # that must die with the call: channels_redis' layers, loop-keyed caches).
    "loop_per_call": Option("flag", False, "ASGIBRIDGE_LOOP_PER_CALL"),
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _check(name: str, value: Any, option: Option, source: str) -> Any:
    if value is None:
        if option.optional:
            return None
        raise ConfigTypeError(f"{source} must be {option.describe()}, not None")
    if option.kind == "factory":
        return _check_factory(value, option, source)
    if option.kind == "flag":
        return _check_flag(value, option, source)
    if option.kind == "choice":
        if not isinstance(value, str):
            raise ConfigTypeError(
                f"{source} must be {option.describe()}, not {type(value).__name__}"
            )
        if value not in option.choices:
            raise ConfigValueError(f"{source} must be {option.describe()}, not {value!r}")
        return value
    if option.kind == "count":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigTypeError(
                f"{source} must be {option.describe()}, not {type(value).__name__} {value!r}"
            )
        if value < option.minimum:
            raise ConfigValueError(f"{source} must be {option.describe()}, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigTypeError(
            f"{source} must be {option.describe()}, not {type(value).__name__} {value!r}"
        )
    if not (value > 0 and math.isfinite(value)):
        raise ConfigValueError(f"{source} must be {option.describe()}, not {value!r}")
    return float(value)


def _check_flag(value: Any, option: Option, source: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigTypeError(
            f"{source} must be {option.describe()}, not {type(value).__name__} {value!r}"
        )
    return value


def _check_factory(value: Any, option: Option, source: str) -> Any:
    if callable(value) or value in ("asyncio", "uvloop"):
        return value
    if isinstance(value, str):
        raise ConfigValueError(f"{source} must be {option.describe()}, not {value!r}")
    raise ConfigTypeError(f"{source} must be {option.describe()}, not {type(value).__name__}")


def validate(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``configure(**options)``; returns the values to store (seconds as floats).

    Raises:
        ConfigTypeError: an unknown option, or a value of the wrong type (a TypeError).
        ConfigValueError: a value out of range (a ValueError).
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigTypeError(f"unknown asgibridge option(s): {unknown}; known: {sorted(OPTIONS)}")
    return {name: _check(name, value, OPTIONS[name], name) for name, value in options.items()}


def _parse(raw: str, option: Option) -> Any:
    if option.optional and raw.strip().lower() in ("none", "off"):
        return None
    if option.kind in ("choice", "factory"):
        return raw.strip()
    if option.kind == "flag":
        word = raw.strip().lower()
        # Anything else is reported by _check as the wrong type, with the option's name.
        return True if word in _TRUE else False if word in _FALSE else raw
    try:
        return int(raw) if option.kind == "count" else float(raw)
    except ValueError:
        return raw  # reported by _check as the wrong type, with the option's name


def from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Every option's starting value: its environment variable if set, else its default.

    Raises:
        ConfigTypeError, ConfigValueError: a variable holds an invalid value
            (the message names the variable and the allowed range).
    """
    values: dict[str, Any] = {}
    for name, option in OPTIONS.items():
        raw = environ.get(option.env) if option.env else None
        if raw is None or raw == "":
            values[name] = option.default
            continue
        source = f"the environment variable {option.env} (option {name})"
        values[name] = _check(name, _parse(raw, option), option, source)
    return values

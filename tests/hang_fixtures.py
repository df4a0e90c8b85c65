"""Fixtures for the hang-deadline tests: a short deadline in each mode, and a log flag.

``tests/conftest.py`` imports the fixtures (so every test module has them);
test modules import `Flag` for annotations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

import asgibridge

__all__ = ("Flag", "flag", "hang_raise", "hang_warn")


@pytest.fixture
def hang_raise() -> Iterator[None]:
    previous = asgibridge.configure(hang_timeout=0.2, hang_mode="raise", health_interval=0.02)
    try:
        yield
    finally:
        asgibridge.configure(**previous)


@pytest.fixture
def hang_warn() -> Iterator[None]:
    previous = asgibridge.configure(hang_timeout=0.2, hang_mode="warn", health_interval=0.02)
    try:
        yield
    finally:
        asgibridge.configure(**previous)


class Flag(logging.Handler):
    """Sets an event when the "asgibridge" logger warns (and keeps the records)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.event = threading.Event()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.event.set()


@pytest.fixture
def flag() -> Iterator[Flag]:
    handler = Flag()
    logger = logging.getLogger("asgibridge")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)

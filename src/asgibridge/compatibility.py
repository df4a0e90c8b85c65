"""ASGI 2 / ASGI 3 application compatibility helpers, as in asgiref.compatibility."""

from ._asgi.callables import (
    double_to_single_callable,
    guarantee_single_callable,
    is_double_callable,
)
from ._runtime.host._coroutines import iscoroutinefunction

__all__ = (
    "double_to_single_callable",
    "guarantee_single_callable",
    "is_double_callable",
    "iscoroutinefunction",
)

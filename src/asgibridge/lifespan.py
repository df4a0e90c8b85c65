"""The ASGI lifespan protocol: run an app's startup/shutdown, or answer it for apps that cannot.

`LifespanManager(app)` runs startup and shutdown (``async with`` or ``with``)
with deadlines and passes ``state``; `LifespanMiddleware(app, on_startup=...,
on_shutdown=...)` answers lifespan for apps that do not speak it (Django).
"""

from ._asgi.lifespan.manager import LifespanManager
from ._asgi.lifespan.middleware import LifespanMiddleware
from ._errors import LifespanShutdownError, LifespanStartupError, LifespanUnsupportedError

__all__ = (
    "LifespanManager",
    "LifespanMiddleware",
    "LifespanShutdownError",
    "LifespanStartupError",
    "LifespanUnsupportedError",
)

"""Base server for connectionless protocols, as in asgiref.server (`StatelessServer`)."""

from ._asgi.callables import guarantee_single_callable
from ._asgi.server import StatelessServer, logger

__all__ = ("StatelessServer", "guarantee_single_callable", "logger")

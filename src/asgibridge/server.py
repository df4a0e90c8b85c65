"""Base server for connectionless protocols, as in asgiref.server (`StatelessServer`)."""

from ._asgi.server import StatelessServer

__all__ = ("StatelessServer",)

"""Django's ASGI entry point with a one-hop path for sync requests (`get_asgi_application`).

Django is imported on the first call, never by ``import asgibridge.django``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._asgi.django.handler import OneHopASGIHandler

__all__ = ("OneHopASGIHandler", "get_asgi_application")


def get_asgi_application() -> OneHopASGIHandler:
    """Set up Django and return its ASGI application, serving sync requests in one hop.

    Use it in place of ``django.core.asgi.get_asgi_application`` (``asgi.py``).
    A request whose middleware are all sync-capable, whose ``request_started``
    receivers are sync and whose view is sync runs ``request_started``, the
    middleware chain (built as ``WSGIHandler`` builds it), the view and
    ``response.close()`` in one thread-sensitive call; any other request is
    served by Django's own ``ASGIHandler`` code, with a debug log on the
    ``asgibridge.django`` logger saying why.

    asgibridge is installed as asgiref first when nothing imported asgiref
    yet; otherwise the handler runs on whichever asgiref Django imported.

    Example:
        >>> import asgibridge.django
        >>> application = asgibridge.django.get_asgi_application()  # doctest: +SKIP
    """
    if not any(name == "asgiref" or name.startswith("asgiref.") for name in sys.modules):
        from ._activation.install import install_as_asgiref

        install_as_asgiref()
    import django

    django.setup(set_prefix=False)
    from ._asgi.django.handler import OneHopASGIHandler

    return OneHopASGIHandler()


def __getattr__(name: str) -> Any:
    if name == "OneHopASGIHandler":
        from ._asgi.django.handler import OneHopASGIHandler

        return OneHopASGIHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

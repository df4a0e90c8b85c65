"""Serving an ASGI application from a WSGI server: `AsgiToWsgi` (asgibridge only, not asgiref).

`AsgiToWsgi` runs the app on a per-process event loop, with lifespan, and
streams its response to the WSGI server. See ``docs/wsgi.md``.
"""

from ._asgi.wsgi.asgi_to_wsgi import AsgiToWsgi

__all__ = ("AsgiToWsgi",)

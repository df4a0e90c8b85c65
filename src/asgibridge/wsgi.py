"""WSGI <-> ASGI adapters, with asgiref.wsgi's names.

`WsgiToAsgi` serves a WSGI application from an ASGI server: requests run in
parallel on a bounded pool, the body is read on demand and the response
streamed with back-pressure. `AsgiToWsgi` serves an ASGI application from a
WSGI server, with a per-process event loop and lifespan. `FileWrapper` is
the ``wsgi.file_wrapper`` WsgiToAsgi offers. See ``docs/wsgi.md``.
"""

from ._asgi._asgi_to_wsgi import AsgiToWsgi
from ._asgi._wsgi_io import FileWrapper
from ._asgi._wsgi_to_asgi import WsgiToAsgi, WsgiToAsgiInstance

__all__ = ("AsgiToWsgi", "FileWrapper", "WsgiToAsgi", "WsgiToAsgiInstance")

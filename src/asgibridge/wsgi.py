"""Serving a WSGI application from an ASGI server, with asgiref.wsgi's names.

`WsgiToAsgi` serves a WSGI application from an ASGI server: requests run in
parallel on a bounded pool, the body is read on demand and the response
streamed with back-pressure. See ``docs/wsgi.md``. The reverse adapter,
`asgibridge.asgi_to_wsgi.AsgiToWsgi`, and the ``wsgi.file_wrapper`` class,
`asgibridge.file_wrapper.FileWrapper`, are asgibridge's own.
"""

from ._asgi.wsgi.wsgi_to_asgi import WsgiToAsgi, WsgiToAsgiInstance
from ._moved import moved_names
from ._runtime.bridge._async_to_sync import AsyncToSync
from ._runtime.bridge._sync_to_async import sync_to_async

__all__ = ("AsyncToSync", "WsgiToAsgi", "WsgiToAsgiInstance", "sync_to_async")

# asgibridge's additions that used to live here: still importable, with a warning.
__getattr__ = moved_names(
    __name__,
    {
        "AsgiToWsgi": "asgibridge.asgi_to_wsgi",
        "FileWrapper": "asgibridge.file_wrapper",
    },
)

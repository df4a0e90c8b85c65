"""`FileWrapper`: the ``wsgi.file_wrapper`` WsgiToAsgi puts in every environ (asgibridge only).

A WSGI app gets it from ``environ["wsgi.file_wrapper"]``; import it from
here to check for it or to type with it. See ``docs/wsgi.md``.
"""

from ._asgi.wsgi.body import FileWrapper

__all__ = ("FileWrapper",)

"""WSGI <-> ASGI: `wsgi_to_asgi.WsgiToAsgi` and `asgi_to_wsgi.AsgiToWsgi`, and their parts.

WsgiToAsgi: `environ` builds the environ, `admission` bounds the threads,
`channel` and `pump` carry the body and response between the loop and the
WSGI thread, `runner` runs the WSGI app, `body` is its request body and
file wrapper, `headers` the status and header rules. AsgiToWsgi: `environ`
builds the scope, `exchange` carries one request to the app's loop and back.
"""

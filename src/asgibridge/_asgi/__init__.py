"""ASGI-level code, one room per subpackage, layered (import-linter contracts check it).

From the bottom up, each layer may import only the layers below it:

- `spec` (sans-I/O): the ASGI spec as tables and TypedDicts; and `callables`
  (ASGI 2 / ASGI 3 application shapes);
- `validator` (sans-I/O state machines, rules, checks) and its `guard` middleware;
- `lifespan`: the lifespan manager and middleware (production code);
- `wsgi` (WsgiToAsgi, AsgiToWsgi), `server` (StatelessServer) and `django` (the one-hop
  Django handler; it imports Django, so nothing imports it but the facade's first call):
  production code;
- `testing`: ApplicationCommunicator and the httpx test client;
- `check`: ``python -m asgibridge check``.

Production code never imports `testing` or `check`. The runtime is reached
only through ``asgibridge._runtime``'s exports.
"""

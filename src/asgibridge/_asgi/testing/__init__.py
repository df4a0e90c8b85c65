"""Testing ASGI apps: `communicator.ApplicationCommunicator` and the httpx test client.

`client` holds TestClient / AsyncTestClient, `transport` their httpx
transports, `exchange` one HTTP or WebSocket exchange with the app, `scope`
the scopes they send, `websocket` the WebSocket sessions. Only `check` (and
the public ``asgibridge.testing`` / ``asgibridge.testclient``) import this.
"""

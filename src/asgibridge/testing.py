"""Testing ASGI applications, as in asgiref.testing: `ApplicationCommunicator`.

`ApplicationCommunicator` (asgiref's API) trades raw ASGI messages with one
application instance. asgibridge's httpx-based test client is in
`asgibridge.testclient`.
"""

from ._asgi.callables import guarantee_single_callable
from ._asgi.testing.communicator import ApplicationCommunicator
from ._moved import moved_names

__all__ = ("ApplicationCommunicator", "guarantee_single_callable")

# asgibridge's additions that used to live here: still importable, with a warning.
__getattr__ = moved_names(
    __name__,
    {
        "AsyncTestClient": "asgibridge.testclient",
        "AsyncWebSocketSession": "asgibridge.testclient",
        "ClientDisconnected": "asgibridge.testclient",
        "TestClient": "asgibridge.testclient",
        "WebSocketClosed": "asgibridge.testclient",
        "WebSocketDenied": "asgibridge.testclient",
        "WebSocketSession": "asgibridge.testclient",
    },
)

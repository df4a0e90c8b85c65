"""Testing ASGI applications, as in asgiref.testing: `ApplicationCommunicator`.

`ApplicationCommunicator` (asgiref's API) trades raw ASGI messages with one
application instance. asgibridge's httpx-based test client is in
`asgibridge.testclient`.
"""

from ._asgi.testing.communicator import ApplicationCommunicator

__all__ = ("ApplicationCommunicator",)

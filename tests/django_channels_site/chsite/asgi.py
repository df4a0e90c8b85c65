"""ASGI entry point: asgibridge replaces asgiref before Django and Channels import it.

CHSITE_IMPL=asgiref keeps the real asgiref (benchmarks/bench_gunicorn.py compares both).
"""

import os
import threading

if os.environ.get("CHSITE_IMPL", "asgibridge") == "asgibridge":
    import asgibridge

    asgibridge.install_as_asgiref()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chsite.settings")

import django

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.urls import path  # noqa: E402

from chsite.consumers import NewsConsumer  # noqa: E402
from chsite.models import Hit  # noqa: E402


def _no_fsync(sender, connection, **kwargs) -> None:
    # No fsync per commit: the load test measures the bridge, not the disk.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=OFF")
        if os.environ.get("CHSITE_WAL"):
            cursor.execute("PRAGMA journal_mode=WAL")


connection_created.connect(_no_fsync)


def _create_tables() -> None:
    call_command("migrate", run_syncdb=True, verbosity=0)
    for name in ("sync", "async"):
        Hit.objects.get_or_create(name=name)
    connection.close()


# uvicorn imports this module inside its running event loop, where Django
# refuses ORM calls: set the database up on a thread of its own.
_setup = threading.Thread(target=_create_tables)
_setup.start()
_setup.join()

application = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        "websocket": URLRouter([path("ws/news", NewsConsumer.as_asgi())]),
    }
)

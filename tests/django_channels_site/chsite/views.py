"""Views as typical Channels projects write them: ORM on the request thread, group_send."""

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db.models import F
from django.http import HttpResponse

from chsite.models import Hit


def sync_view(request):
    """Sync view: ORM read and write, then a group_send through async_to_sync."""
    Hit.objects.filter(name="sync").update(count=F("count") + 1)
    count = Hit.objects.get(name="sync").count
    async_to_sync(get_channel_layer().group_send)("news", {"type": "news.item", "n": count})
    return HttpResponse(f"sync {count}")


def sync_plain(request):
    """Sync view: ORM read only."""
    return HttpResponse(f"plain {Hit.objects.count()}")


async def async_view(request):
    """Async view: group_send awaited, ORM through sync_to_async."""
    await get_channel_layer().group_send("news", {"type": "news.item", "n": 0})
    count = await sync_to_async(Hit.objects.count)()
    return HttpResponse(f"async {count}")

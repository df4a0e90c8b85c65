"""A websocket consumer joining the "news" group (routing only: the load test uses HTTP)."""

from typing import ClassVar

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class NewsConsumer(AsyncJsonWebsocketConsumer):
    groups: ClassVar[list[str]] = ["news"]

    async def news_item(self, event):
        await self.send_json(event)

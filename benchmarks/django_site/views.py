"""The views the benchmark requests: a "hello" sync view and an ORM query + template one."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Item


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"hello")


def items(request: HttpRequest) -> HttpResponse:
    rows = list(Item.objects.order_by("id")[:20])
    return render(request, "items.html", {"items": rows})

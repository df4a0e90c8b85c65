"""URLs of the one-hop handler's test site."""

from __future__ import annotations

import views_one_hop as views
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

urlpatterns = [
    path("hello", views.hello),
    path("boom", views.boom),
    path("stream", views.stream),
    path("astream", views.astream),
    path("file", views.file),
    path("echo", csrf_exempt(views.echo)),
    path("template", views.template),
    path("big", views.big),
    path("empty", views.empty),
    path("held", views.held),
    path("bad-close", views.bad_close),
    path("async", views.async_view),
]

"""URLs of the benchmark project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("hello", views.hello),
    path("items", views.items),
]

from django.urls import path

from chsite import views

urlpatterns = [
    path("sync", views.sync_view),
    path("plain", views.sync_plain),
    path("async", views.async_view),
]

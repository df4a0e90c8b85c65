"""The one model: a note written by each request."""

from django.db import models


class Note(models.Model):
    """A line of text, stored by the views."""

    text = models.CharField(max_length=100)

    class Meta:
        app_label = "bridge_site"

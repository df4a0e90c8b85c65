"""One counter row per view kind."""

from django.db import models


class Hit(models.Model):
    name = models.CharField(max_length=20, unique=True)
    count = models.IntegerField(default=0)

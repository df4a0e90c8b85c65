"""Settings: sqlite in CHSITE_DB, a channels_redis layer on CHSITE_REDIS (redis://host:port)."""

import os

SECRET_KEY = "chsite-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "chsite.urls"
INSTALLED_APPS = ["channels", "chsite"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["CHSITE_DB"],
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
ASGI_APPLICATION = "chsite.asgi.application"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ["CHSITE_REDIS"]]},
    }
}

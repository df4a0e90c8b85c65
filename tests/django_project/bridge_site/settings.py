"""Settings of the test site: one app, sqlite in the file named by BRIDGE_SITE_DB."""

import os

SECRET_KEY = "bridge-site-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "bridge_site.urls"
INSTALLED_APPS = ["bridge_site"]
# Order matters: the async middleware runs first (on the event loop), then the
# sync one (adapted by Django with sync_to_async, thread-sensitive), then the view.
MIDDLEWARE = ["bridge_site.middleware.async_middleware", "bridge_site.middleware.sync_middleware"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["BRIDGE_SITE_DB"],
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "French")]
USE_TZ = True
LOGGING_CONFIG = None

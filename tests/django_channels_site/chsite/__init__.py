"""A small Django + Channels site served by uvicorn in tests/test_django_channels_load.py."""

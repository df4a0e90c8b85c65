"""A small Django project the Django benchmark serves in process (bench_django.py)."""

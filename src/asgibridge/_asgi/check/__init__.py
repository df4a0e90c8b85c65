"""``python -m asgibridge check``: `scenarios` drives an app, `report` holds the results.

`lifespan` drives the app's lifespan startup and shutdown for the check.
"""

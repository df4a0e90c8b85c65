"""The ASGI spec as data (`tables`, built from `model`, `www`, `lifespan`, `ext`) and types.

Sans-I/O: data and pure helpers, no asyncio, no threading, no runtime. This
``__init__`` imports nothing, so the TypedDicts (`types`, `event_types`) load
without the tables.
"""

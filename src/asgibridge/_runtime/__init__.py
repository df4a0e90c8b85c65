"""The runtime: bridges, executors, threads, loops and their state (never imports `_asgi`)."""

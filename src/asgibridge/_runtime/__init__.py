"""The runtime: bridges, executors, worker threads, loops and their state (never imports `_asgi`)."""

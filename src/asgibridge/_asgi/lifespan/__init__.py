"""The ASGI lifespan protocol: `manager.LifespanManager` and `middleware.LifespanMiddleware`.

Production code (AsgiToWsgi runs an app's lifespan with the manager): nothing
here imports the test client.
"""

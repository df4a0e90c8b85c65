"""The one-hop Django ASGI handler's room (``asgibridge.django``): nothing Django loads here.

`handler` defines the handler (it subclasses Django's, so it imports Django);
`plan` decides, per request, whether the one-hop path may serve it. This
``__init__`` imports neither: ``import asgibridge._asgi`` must never import
Django (the facade imports `handler` on the first call of
``get_asgi_application``).
"""

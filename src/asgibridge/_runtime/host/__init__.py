"""Facts about the host: the interpreter (GIL, fork) and the event loop in use.

Every read of a private asyncio or loop attribute lives here (`_asyncio_private`),
guarded, with a public fallback; the rest of the runtime asks these modules.
Imports only `_runtime._state`.
"""

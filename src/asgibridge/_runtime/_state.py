"""All mutable process, thread and loop state of the runtime, declared in one place.

Every other module reads and writes these names through ``_state.<name>``; none
keeps a mutable global of its own. Each entry says its scope, who writes it,
when it is reset, and what happens to it across ``os.fork()``.

Rules:

- Nothing here starts a thread, builds a loop or an executor at import time:
  entries start empty and are filled lazily by their writer.
- After a fork only the forking thread exists in the child, so every entry that
  refers to a thread, a loop or a lock held by another thread is dropped by
  `_after_fork_in_child` (registered with `os.register_at_fork`). Thread-local
  entries survive in the forking thread and are checked against `generation`
  by their readers.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import threading
import weakref
from typing import Any

from ._config import from_environment

__all__ = (
    "abandoned_by_name",
    "activated_by",
    "adapter_pools",
    "config",
    "counters",
    "current_executor",
    "generation",
    "hidden_default_executors",
    "hop_listeners",
    "local_owner",
    "lock",
    "loop_bells",
    "loop_executors",
    "loop_threads",
    "outer_hop",
    "pool",
    "single_thread_context",
    "stats_lock",
    "sticky_pool",
    "task_contexts",
    "sync_worker",
    "thread_handlers",
    "thread_sensitive_context",
    "thread_serial",
    "tls",
    "traced",
)


# How asgiref came to be aliased to asgibridge, for `python -m asgibridge doctor`
# (None: by no activation path of asgibridge's own, e.g. a direct call of
# ``install_as_asgiref()``). Scope: process. Writer: `asgibridge._activation`.
# Reset: never. Fork: survives (the alias does too).
activated_by: str | None = None

# Tunables (see `_config.OPTIONS` for each option's meaning and range). Scope:
# process. Writer: `asgibridge.configure()` (validated), the environment at
# import (validated: a bad ASGIBRIDGE_* variable fails the import, naming it).
# Reset: never (configuration survives fork on purpose).
config: dict[str, Any] = from_environment()

# Serial numbers of runtime thread names ("asgibridge-sync-3"). Scope: process.
# Writer: `_supervise.thread_name`. Reset: never (names only). Fork: survives.
thread_serial = itertools.count(1)

# Fork generation. Scope: process. Writer: `_after_fork_in_child`. Readers compare
# it with the generation stored in thread-local entries to detect inherited state.
generation = 0

# Guards lazy creation of the entries below. Scope: process. Fork: replaced in
# the child (it may have been held by a thread that does not exist there).
lock = threading.Lock()

# The one process-wide thread for thread-sensitive work outside any
# ThreadSensitiveContext and any blocked sync caller. Writer: `_workers`
# (lazily). Reset: `shutdown()` and fork (dropped: its thread is gone).
sync_worker: Any = None

# Pool for thread_sensitive=False calls. Writer: `_workers` (lazily).
# Reset: `shutdown()` and fork.
pool: Any = None

# Idle threads lent to ThreadSensitiveContexts. Writer: `_workers` (lazily).
# Reset: `shutdown()` and fork.
sticky_pool: Any = None

# Every live persistent loop thread (per calling thread, or per
# AsyncSingleThreadContext). Writer: `_loops`. Reset: `shutdown()`, fork.
loop_threads: set[Any] = set()

# The CurrentThreadExecutor of the sync caller a persistent loop is serving,
# by loop: thread-sensitive work from tasks that did not inherit the
# ``current_executor`` ContextVar still reaches that caller. Writer:
# `_async_to_sync` (set for the duration of a call). Reset: fork.
loop_executors: dict[Any, Any] = {}


# Per-thread entries. Scope: thread. Writers: `_workers` sets `.hop` (the
# sync_to_async call this thread is running: its loop, pid, inner tasks) around
# each call; `_loops` sets `.loop_owner` (this thread's persistent loop);
# `_inbox.thread_waker` sets `.waker` (this thread's wake-up socket pair, for
# the CurrentThreadExecutors it serves, with the generation it was made in).
# Fork: survives in the forking thread; readers check `generation` / pid.
class _ThreadState(threading.local):
    # Class-level defaults make a missing entry a plain attribute read instead
    # of a raised-and-caught AttributeError (a hot-path cost: ~0.3 us a call).
    hop: Any = None
    loop_owner: Any = None
    waker: Any = None


tls = _ThreadState()

# Counters for observability. Scope: process. Writer: `_stats` only, under
# `stats_lock` (exact under concurrent threads). Keys: ``abandoned_calls``
# (the awaiting side gave up while the sync function ran on),
# ``cancelled_before_start`` (calls that never ran), ``unhandled_errors``
# (BaseExceptions with no caller to deliver them to: logged),
# ``replaced_threads`` (dead runtime threads replaced), ``leftover_tasks``
# (tasks an async_to_sync call left that ignored cancellation past
# ``leftover_timeout``). Reset: fork.
counters: dict[str, int] = dict.fromkeys(
    (
        "abandoned_calls",
        "cancelled_before_start",
        "unhandled_errors",
        "replaced_threads",
        "leftover_tasks",
    ),
    0,
)
# Guards `counters` and `abandoned_by_name`. Scope: process. Fork: replaced.
stats_lock = threading.Lock()

# Context-scoped entries (ContextVars: they follow tasks and the bridge).
# The CurrentThreadExecutor of the nearest sync caller blocked in async_to_sync.
# Writer: `_async_to_sync` (set before the context copy, reset after the call)
# and `ThreadSensitiveContext(executor=...)` (hides it). Fork: irrelevant.
current_executor: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "asgibridge.current_executor", default=None
)
# The sync_to_async call (a Hop) whose sync function made the async_to_sync call
# this coroutine runs for. Writer: `_call` (set inside the coroutine's task,
# reset when it ends, so it is never carried back). Reader: `_cancellation`,
# which walks outwards through nested hops. Fork: irrelevant.
outer_hop: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "asgibridge.outer_hop", default=None
)
# The innermost entered ThreadSensitiveContext. Writer: ThreadSensitiveContext.
thread_sensitive_context: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "asgibridge.thread_sensitive_context"
)
# The innermost entered AsyncSingleThreadContext. Writer: AsyncSingleThreadContext.
single_thread_context: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "asgibridge.single_thread_context"
)

# Each loop's doorbell (`threads._doorbell`: how runtime threads post a callback
# to it), by ``id(loop)``: ``(weak reference to the loop, post function)``; the
# post function is ``loop.call_soon_threadsafe`` for loops without
# ``add_reader``. Scope: process. Writer: `_doorbell.poster_for`, on the loop's
# own thread (or its owner's, before it runs). Reset: the loop's death (the
# weak reference's callback) or `_doorbell.forget_loop` when its owner closes
# it. Fork: cleared (a child must never ring its parent's loop).
loop_bells: dict[int, tuple[Any, Any]] = {}

# The default executor of loops that hide it (uvloop), by loop, with the time
# it was looked up: ``(monotonic seconds, executor or None)``. Scope: process.
# Writer: `_asyncio_private` (on each loop's own thread). Reset: entries die
# with their loop (weak keys). Fork: irrelevant (loops do not survive fork).
hidden_default_executors: weakref.WeakKeyDictionary[Any, tuple[float, Any]] = (
    weakref.WeakKeyDictionary()
)

# Worker pools owned by adapters (one per `WsgiToAsgi` instance and fork
# generation: a bounded pool of its own, so WSGI requests never starve the
# shared pool). Scope: process. Writer: `_adapter_pools` (adds a pool at
# its adapter's first request; readers treat a pool missing from the set as
# stopped). Reset: stop each (``stop_idle``), then clear the set: done by
# `_adapter_pools.stop_adapter_pools()` and by `shutdown()`.
# Fork: cleared in the child (its threads are gone; adapters also compare
# `generation`).
adapter_pools: weakref.WeakSet[Any] = weakref.WeakSet()

# Per-thread identity of `Local` boxes (`_local`): ``local_owner.__dict__`` is
# this thread's *token*, a dict CPython creates on the thread's first access
# and keeps for the thread's life (cheaper to fetch than an ident, never
# reused by a later thread, unlike idents). Scope: thread. Writer: none (it
# stays empty; only its identity matters). Reset: never (dies with the thread;
# boxes that name it keep it alive). Fork: the forking thread keeps its token,
# which stays valid (same thread).
local_owner = threading.local()


# Registered hop listeners, as (on_start, on_end) pairs, and thread handlers
# (context-manager factories entered around a sync function on its thread).
# Tuples, replaced whole under `lock`, so the bridge reads them without a lock.
# Scope: process. Writer: `_hooks`. Reset: never (survive fork: plain callables).
hop_listeners: tuple[Any, ...] = ()
thread_handlers: tuple[Any, ...] = ()

# True when a bridge call must take the instrumented path: a listener or a
# thread handler is registered, or a hang deadline is set. The hot paths read
# only this flag. Scope: process. Writer: `_hooks.refresh` (called by the
# registry functions and `configure`). Reset: with its inputs. Fork: survives.
traced: bool = config["hang_timeout"] is not None

# Abandoned sync calls by function qualified name (the awaiting task was
# cancelled or gave up while they ran on). Scope: process. Writers:
# `_stats` only (under `stats_lock`), next to ``counters["abandoned_calls"]``.
# Reset: fork (the calls belong to the parent).
abandoned_by_name: dict[str, int] = {}


# The hop context of each task that awaited a sync_to_async call (a
# `_context.TaskContext`: the Context its consecutive calls share, asgiref
# issue #534), by ``id(task)``. Scope: process (each entry belongs to one
# task and is read and written on that task's loop thread only). Writers:
# `_context.take_hop_context` (adds an entry at a task's first call) and the
# entry's weak-reference callback (removes it when the task is freed, from
# whatever thread frees it). Reset: the task's death. Fork: cleared.
task_contexts: dict[int, Any] = {}


def _after_fork_in_child() -> None:
    # Hazard (fork): the threads behind these objects do not exist in the child;
    # using them would hang forever. Drop them; they are rebuilt lazily.
    global generation, lock, stats_lock, sync_worker, pool, sticky_pool
    generation += 1
    lock = threading.Lock()
    stats_lock = threading.Lock()
    sync_worker = None
    pool = None
    sticky_pool = None
    loop_threads.clear()
    loop_executors.clear()
    loop_bells.clear()
    adapter_pools.clear()
    for key in counters:
        counters[key] = 0
    abandoned_by_name.clear()
    task_contexts.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)

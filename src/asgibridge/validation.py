"""Check apps and servers against the ASGI spec: the validator, the guard middleware, the check.

`guard(app)` wraps a live app; `validator_for(scope)` gives the sans-I/O state
machine of one connection; `check_app` / `run_check` drive an app through the
scenarios of ``python -m asgibridge check``; `RULES` is the rule catalogue and
`SPEC` the spec data everything is built from. See ``docs/validation.md``.
"""

from ._asgi.check.report import CheckResult, ScenarioResult
from ._asgi.check.scenarios import check_app, load_app, run_check
from ._asgi.spec import tables as SPEC
from ._asgi.validator.guard import GuardedApp, Mode, Report, guard
from ._asgi.validator.machines import (
    RULES,
    ConnectionValidator,
    HTTPValidator,
    LifespanValidator,
    Rule,
    Violation,
    WebSocketValidator,
    validator_for,
)
from ._errors import AppSpecError, AsgiSpecError, AsgiSpecWarning, ServerSpecError

__all__ = (
    "guard",
    "GuardedApp",
    "Mode",
    "Report",
    "validator_for",
    "ConnectionValidator",
    "HTTPValidator",
    "WebSocketValidator",
    "LifespanValidator",
    "Rule",
    "Violation",
    "RULES",
    "SPEC",
    "check_app",
    "run_check",
    "load_app",
    "CheckResult",
    "ScenarioResult",
    "AsgiSpecError",
    "AppSpecError",
    "ServerSpecError",
    "AsgiSpecWarning",
)

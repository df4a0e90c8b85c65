"""The pytest plugin: alias asgiref to asgibridge before pytest-django imports Django.

Registered under the ``pytest11`` entry point name ``asgibridge``, so pytest
loads this module in every run; it acts only when asked to, with ``-p
asgibridge`` on the command line (or in ``addopts``) or ``asgibridge_as_asgiref
= true`` in the ini file. A ``conftest.py`` is too late for pytest-django: it
sets Django up in ``pytest_load_initial_conftests``, before any conftest runs.
This plugin wraps that hook, so the alias is in place before any
implementation of it (pytest-django's included) runs.

Loading this module imports the ``asgibridge`` package (its parent), never the
alias: ``import asgiref`` keeps giving the real asgiref unless the plugin is on.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .reasons import PYTEST_PLUGIN, record

__all__ = ("INI_OPTION", "PLUGIN_NAME")

PLUGIN_NAME = "asgibridge"
INI_OPTION = "asgibridge_as_asgiref"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI_OPTION,
        type="bool",
        default=False,
        help="alias asgiref to asgibridge before plugins import it (same as -p asgibridge)",
    )


def _wanted(config: pytest.Config) -> bool:
    named: list[str] = getattr(config.known_args_namespace, "plugins", None) or []
    return PLUGIN_NAME in named or bool(config.getini(INI_OPTION))


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, Any, Any]:
    if _wanted(early_config):
        import asgibridge
        from asgibridge._errors import AsgirefAlreadyImportedError

        try:
            asgibridge.install_as_asgiref()
        except AsgirefAlreadyImportedError as exc:
            raise pytest.UsageError(
                f"asgibridge plugin: {exc} Another plugin imported it while pytest loaded "
                "its plugins; start pytest with ASGIBRIDGE_AS_ASGIREF=1 or as "
                "'python -m asgibridge run -- pytest ...' instead."
            ) from exc
        record(PYTEST_PLUGIN)
    return (yield)

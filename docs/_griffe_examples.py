"""Griffe extension: render the house docstring section ``Example:`` as an examples section.

The project's docstrings head their doctests with ``Example:`` (singular). Griffe's Google
parser only knows ``Examples:``, and turns any other ``Word:`` line into an admonition whose body
is rendered as Markdown, so ``>>>`` lines would become nested block quotes. This extension
renames the heading before the docstring is parsed; the source is untouched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section headings to ``Examples:`` in every loaded docstring."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        """Rewrite the object's docstring heading (called for every loaded object)."""
        docstring = getattr(obj, "docstring", None)
        if docstring is not None and "Example:" in docstring.value:
            docstring.value = _HEADING.sub(r"\1Examples:", docstring.value)

"""Hatch build hook: ship the ``ASGIBRIDGE_AS_ASGIREF`` start-up hook at site-packages' top.

A ``.pth`` file only runs when it sits directly in a site directory, so the one
kept with its code in ``src/asgibridge/_activation/`` is also copied to the
wheel's root: for regular wheels through ``force_include``, for editable ones
(``pip install -e``) through ``force_include_editable`` (hatchling leaves the
plain ``force-include`` setting out of editable wheels).
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PTH_SOURCE = "src/asgibridge/_activation/asgibridge-as-asgiref.pth"
PTH_TARGET = "asgibridge-as-asgiref.pth"


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        key = "force_include_editable" if version == "editable" else "force_include"
        build_data.setdefault(key, {})[PTH_SOURCE] = PTH_TARGET

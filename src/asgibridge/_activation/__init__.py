"""Activation: making ``import asgiref`` serve asgibridge, with or without editing code.

The alias itself: `install` (``install_as_asgiref()``, its refusal and the
take-over of unused real modules, `takeover`) and `alias` (the lazy import
finder and the ``asgiref`` package object). Four zero-edit paths, each calling
the public ``asgibridge.install_as_asgiref()`` at the right moment: the
launcher (``python -m asgibridge run -- CMD``, `launcher`),
the ``ASGIBRIDGE_AS_ASGIREF`` start-up hook (a ``.pth`` file plus `startup`),
the pytest plugin (`pytest_plugin`), and the check of what is active
(``python -m asgibridge doctor``, `doctor`). Nothing here is imported by
``import asgibridge``: each path imports what it needs.
"""

"""Zero-edit activation: ways to make ``import asgiref`` serve asgibridge without editing code.

Four paths, each calling the public ``asgibridge.install_as_asgiref()`` at the
right moment: the launcher (``python -m asgibridge run -- CMD``, `launcher`),
the ``ASGIBRIDGE_AS_ASGIREF`` start-up hook (a ``.pth`` file plus `startup`),
the pytest plugin (`pytest_plugin`), and the check of what is active
(``python -m asgibridge doctor``, `doctor`). Nothing here is imported by
``import asgibridge``: each path imports what it needs.
"""

"""A small Django site served through asgibridge (driven by ``drive.py``)."""

"""Figures and reports: filter logo grids (``logos``), tables (``tables``), HTML (``html``).

Submodules are imported on demand (``from motiflens.report import logos``) so that importing
this package does not pull in matplotlib.
"""

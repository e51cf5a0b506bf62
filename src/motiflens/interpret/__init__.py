"""Filter interpretation: layer tracing of any network (``tracing``, ``activations``,
``batching``), conv-filter PPMs (``filters``), an in-process MEME Tomtom (``tomtom``) and scoring
against ground-truth motif lists (``scoring``).

Submodules are imported on demand (``from motiflens.interpret import tomtom``) so that importing
this package stays cheap.
"""

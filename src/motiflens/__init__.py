"""motiflens: which sequence motifs has my convolutional network learned?

Implements Koo & Eddy (2019, PLoS Comput Biol 15(12): e1007560) end to end: the synthetic
benchmark, the paper's architectures and training protocol, filter interpretation with an
in-process Tomtom, and the paper's experiments as reproducible sweeps.
"""

__version__ = "0.1.0"

from motiflens.errors import MotiflensError  # noqa: E402

__all__ = ["MotiflensError", "__version__"]

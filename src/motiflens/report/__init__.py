"""Reports: the paper's figures from records (``figures``) and the HTML report (``html``).

Submodules are imported on demand (``from motiflens.report import html``) so that importing
this package does not pull in matplotlib. Logo drawing lives in :mod:`motiflens.interpret.logos`,
TSV/Markdown tables in :mod:`motiflens.tables`.
"""

"""The subcommands of :mod:`motiflens.cli`, one module per area.

- :mod:`~motiflens.cli_commands.data`: ``simulate`` and ``data`` (datasets);
- :mod:`~motiflens.cli_commands.training`: ``models``, ``train`` and ``evaluate``;
- :mod:`~motiflens.cli_commands.interpretation`: ``interpret`` and ``tomtom``;
- :mod:`~motiflens.cli_commands.experiments`: ``reproduce``, ``reinterpret``, ``analyze``,
  ``compare``, ``records`` and ``report`` (sweeps).

Each ``cmd_*`` takes the parsed ``argparse.Namespace``; the parser, the dispatch and the error
handling live in :mod:`motiflens.cli`.
"""

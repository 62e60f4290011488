"""The ``tickets`` command line: one console script with subcommands.

Each subcommand lives in its own module exposing ``register(subparsers)``; :mod:`verify.cli.main`
registers only the subcommand named on the command line, and a module's heavy imports (torch, the
constructions) happen inside its ``run`` function, so that ``tickets --help``, ``--version`` and
the commands whose flags need no torch-side registry answer without loading torch. The libraries
raise :class:`empirical.errors.InputError` in their own field names; the command line reports it
naming its flags (:func:`verify.cli.args.flag_of`).
"""

"""The ``tickets`` command line: one console script with subcommands.

Each subcommand lives in its own module exposing ``register(subparsers)``; the module's heavy
imports (torch, the constructions) happen inside its ``run`` function so that ``tickets --help``
stays instant.
"""

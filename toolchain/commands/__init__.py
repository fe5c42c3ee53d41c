"""Subcommands of the `edgepack` CLI, one module each (add_arguments + run)."""

"""podinit: the container entrypoint for pods with sidecars."""

__version__ = "0.1.0"

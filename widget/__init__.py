"""widget: a self-hosted comment server for the open web."""

__version__ = "0.1.0"

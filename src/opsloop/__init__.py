"""opsloop: a self-hosted product operations platform."""

__version__ = "0.1.0"

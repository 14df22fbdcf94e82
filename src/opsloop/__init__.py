"""opsloop: a self-hosted product operations platform."""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "connect"]

if TYPE_CHECKING:
    from opsloop.connection import connect
else:

    def connect(*args: Any, **kwargs: Any) -> Any:
        """Open opsloop's stores for queries from Python (see `opsloop.connection.connect`)."""
        from opsloop.connection import connect as _connect

        return _connect(*args, **kwargs)

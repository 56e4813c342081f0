"""odeserve: a client for the odeserve daemon's HTTP API (standard library only).

    from odeserve import Client
    c = Client("http://127.0.0.1:8080", token=None)
    c.trajectory("spiral", [2.0, 0.0], [0.5, 1.0])["y"]

See clients/python/README.md for every method.
"""

from .client import DEFAULT_URL, Client
from .errors import ApiError, ConnectionFailed, JobFailed, OdeserveError

__all__ = ["Client", "ApiError", "ConnectionFailed", "JobFailed", "OdeserveError", "DEFAULT_URL"]
__version__ = "0.1.0"

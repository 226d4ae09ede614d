"""The one way the command lines serve the HTTP apps: uvicorn on a factory, no access log (it would hold residents' addresses),
keep-alive 30 s, the port checked first (one line, exit 2)."""
from __future__ import annotations

from apps.cli.common import check_port


def serve(factory: str, *, host: str, port: int, workers: int = 1, log_level: str = "warning") -> int:
    """Serve ``factory`` (``"package.module:create_app"``) until stopped; the exit code."""
    check_port(port)
    import uvicorn  # only the serving commands need the server

    uvicorn.run(factory, factory=True, host=host, port=port, workers=workers, log_level=log_level,
                access_log=False, timeout_keep_alive=30)
    return 0

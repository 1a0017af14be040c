"""The certification registry over HTTP: a JSON API and server-rendered pages.

``create_app(registry, worker=..., signing=..., limits=...)`` builds the whole
application; ``llmcert serve`` runs it with uvicorn. FastAPI and Jinja2 load
only when this package is imported, never from the CLI's start-up.
"""

from llmcert.server._app import RouteInfo, create_app, processor_of, routes_of
from llmcert.server._auth import ACCESS, ANONYMOUS, PRINCIPALS
from llmcert.server._config import Limits, Publishing, SigningConfig
from llmcert.server._standards import StandardCatalog
from llmcert.server._worker import (
    AssessmentWorker,
    FilingProcessor,
    QueueWorker,
    WorkerResult,
)

__all__ = [
    "ACCESS",
    "ANONYMOUS",
    "PRINCIPALS",
    "AssessmentWorker",
    "FilingProcessor",
    "Limits",
    "Publishing",
    "QueueWorker",
    "RouteInfo",
    "SigningConfig",
    "StandardCatalog",
    "WorkerResult",
    "create_app",
    "processor_of",
    "routes_of",
]

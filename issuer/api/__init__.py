"""The issuer's HTTP API (FastAPI): thin routers over issuer.services."""

from issuer.api.app import create_app

__all__ = ["create_app"]

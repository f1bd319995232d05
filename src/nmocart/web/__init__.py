"""The study web application (issue 7): server-rendered pages, the JSON API, sessions and CSRF.

A thin adapter: routes parse requests, call the database layer's service functions
(``nmocart.db``) and the engines through them, and render. ``create_app(settings)`` builds the
FastAPI application; ``nmocart serve`` runs it with uvicorn.
"""

from __future__ import annotations

from nmocart.web.app import create_app
from nmocart.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]

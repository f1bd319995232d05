"""Every route of the application as (method, path template), including included routers."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount


def _flatten(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            found.extend(_flatten(list(original.routes)))
            continue
        if isinstance(route, Mount):
            found.append(("MOUNT", route.path))
            continue
        methods = getattr(route, "methods", None) or set()
        path = getattr(route, "path", None)
        assert isinstance(path, str)
        found.extend((method, path) for method in sorted(methods) if method != "HEAD")
    return found


def all_routes(app: FastAPI) -> list[tuple[str, str]]:
    """``[(method, path), ...]`` of every route the app answers (HEAD folded into GET)."""
    return sorted(set(_flatten(list(app.routes))))

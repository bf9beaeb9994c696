"""Registering routes on a blueprint with their error policy: JSON answers for the API, pages for the site."""

from __future__ import annotations

import functools
from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.errors import DomainError
from chalicelib.http.errors import html_error, json_error


def _route(blueprint: Blueprint, path: str, on_error: Callable[[DomainError], Response], **kwargs: Any) -> Callable:
    """Register a route whose domain errors are answered by ``on_error``."""
    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def mapped(*args: Any, **params: Any) -> Any:
            try:
                return view(*args, **params)
            except DomainError as exc:
                return on_error(exc)
        return blueprint.route(path, **kwargs)(mapped)
    return register


def api(blueprint: Blueprint, path: str, **kwargs: Any) -> Callable:
    """Register a route whose domain errors become JSON error answers (``http/errors.ERRORS``)."""
    return _route(blueprint, path, json_error, **kwargs)


def page_route(blueprint: Blueprint, path: str, **kwargs: Any) -> Callable:
    """Register a route that answers HTML, its domain errors as HTML pages (``http/errors.html_error``)."""
    return _route(blueprint, path, html_error, **kwargs)

"""The demo blog's one page (widget/demo.py says what the demo is)."""

from __future__ import annotations

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from widget.config import Settings
from widget.demo import DEMO_SITE

__all__ = ["create_demo_app"]


def create_demo_app(settings: Settings) -> Starlette:
    env = jinja2.Environment(loader=jinja2.PackageLoader("widget", "templates"), autoescape=True)
    page = env.get_template("demo/post.html").render(public_url=settings.public_url, site=DEMO_SITE)

    async def post(request: Request) -> Response:
        return HTMLResponse(page)

    return Starlette(routes=[Route("/", post)])

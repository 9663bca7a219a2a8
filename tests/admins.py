"""Admins in the HTTP tests: made in the database, signed in through the login form, and a
browser-like client that keeps their session cookie and CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.helpers import (
    OWN_ORIGIN,
)

PASSWORD = "correct horse battery"


async def make_admin(app: Starlette, email: str, sites: list[str] | None = None) -> None:
    context = app.state.widget
    password_hash = context.admin.passwords.hash(PASSWORD)  # at the tests' cost: microseconds
    await context.storage.add_admin(email, password_hash, sites, datetime.now(UTC))


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match is not None, f"no {name} in the page"
    return match.group(1)


async def log_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, next_page: str = "/admin/"
) -> httpx.Response:
    page = await client.get("/admin/login")
    form = {"email": email, "password": password, "next": next_page,
            "login_token": hidden(page.text, "login_token")}  # fmt: skip
    return await client.post("/admin/login", data=form, headers=OWN_ORIGIN)


class Admin:
    """A signed-in admin's browser: the session cookie, and the CSRF token of its pages."""

    def __init__(self, client: httpx.AsyncClient, cookie: str) -> None:
        self.client = client
        self.cookie = cookie
        self.csrf = ""

    async def get(self, path: str, **params: Any) -> httpx.Response:
        response = await self.client.get(
            path, params=params or None, headers={"Cookie": self.cookie}
        )
        if response.status_code == 200 and 'name="csrf"' in response.text:
            self.csrf = hidden(response.text, "csrf")
        return response

    async def post(self, path: str, data: Any = (), **fields: Any) -> httpx.Response:
        if not self.csrf:
            await self.get("/admin/")
        body = [("csrf", self.csrf), *(data or []), *fields.items()]
        return await self.client.post(
            path, content=httpx.QueryParams(body).__str__().encode(),
            headers={**OWN_ORIGIN, "Cookie": self.cookie,
                     "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip


async def signed_in(client: httpx.AsyncClient, email: str) -> Admin:
    response = await log_in(client, email)
    assert response.status_code == 303, response.text
    client.cookies.clear()  # each Admin sends its own cookie: one client, several sessions
    return Admin(client, response.headers["set-cookie"].split(";")[0])

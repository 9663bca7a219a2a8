"""A site's settings, origins and bans in the admin; adding a site."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from widget.errors import ClientError, Conflict, Invalid, NotFound
from widget.moderation import actions as moderating
from widget.notify.webhooks import webhook_key
from widget.records import Site
from widget.sites import (
    SITE_SETTINGS,
    add_site,
    check_badge_accounts,
    check_outbound_settings,
    get_site,
    normalize_origin,
    parse_site_settings,
    update_site,
)

from .admin import AdminCall, admin_page, number_param

__all__ = ["routes", "site_of"]

MAX_ORIGINS = 50


async def site_of(call: AdminCall) -> Site:
    """The site the admin page names, if the admin manages it."""
    site_id = call.request.path_params["site"]
    if not call.admin.may_manage(site_id):
        raise NotFound("There is no such site among those you manage.")
    return await get_site(call.context.storage, site_id)


async def _render_site(
    call: AdminCall,
    site: Site,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    shown = {setting.name: site.settings.get(setting.name, setting.default)
             for setting in SITE_SETTINGS}  # fmt: skip
    shown.update({"name": site.name, "origins": "\n".join(site.origins)})
    shown.update(values or {})
    return call.render(
        "admin/site.html",
        {
            "title": f"Settings of {site.id}",
            "site": site,
            "site_id": site.id,
            "sites": await call.sites(),
            "settings": SITE_SETTINGS,
            "values": shown,
            "errors": errors or {},
            "error": error,
            "bans": await call.context.storage.list_bans(site.id),
            "webhook_key": webhook_key(call.context.settings.secret_key, site.id),
            # Why the feed could not be read last time ('' when it could, or there is none).
            "feed_error": await call.context.storage.get_feed_poll_error(site.id),
            "here": call.request.url.path,
        },
        status_code=status_code,
    )


@admin_page
async def site_page(call: AdminCall) -> Response:
    return await _render_site(call, await site_of(call))


def _origins(raw: str) -> list[str]:
    lines = [line.strip() for line in raw.replace(",", "\n").splitlines() if line.strip()]
    if not lines:
        raise Invalid("A site needs at least one origin.", {"origins": "At least one origin."})
    if len(lines) > MAX_ORIGINS:
        raise Invalid(f"At most {MAX_ORIGINS} origins.", {"origins": "Too many origins."})
    origins = []
    for line in lines:
        try:
            origins.append(normalize_origin(line))
        except Invalid as exc:
            raise Invalid(exc.message, {"origins": exc.message}) from None
    return sorted(set(origins))


@admin_page
async def save_site(call: AdminCall) -> Response:
    site = await site_of(call)
    values = {setting.name: call.field(setting.name) for setting in SITE_SETTINGS}
    values.update(name=call.field("name"), origins=call.field("origins"))
    errors: dict[str, str] = {}
    settings: dict[str, Any] = {}
    for setting in SITE_SETTINGS:  # every field checked, every problem shown at once
        try:
            settings.update(parse_site_settings({setting.name: values[setting.name]}))
        except Invalid as exc:
            errors.update(exc.fields)
    try:
        await check_outbound_settings(settings, call.context.outbound)
        await check_badge_accounts(call.context.storage, settings, site)
    except Invalid as exc:
        errors.update(exc.fields)
    origins: list[str] = []
    try:
        origins = _origins(values["origins"])
    except Invalid as exc:
        errors.update(exc.fields)
    name = values["name"].strip()
    if not name or len(name) > 200:
        errors["name"] = "A name of 1 to 200 characters."
    if errors:
        return await _render_site(
            call, site, values=values, errors=errors,
            error="Nothing was saved; please correct the fields marked below.", status_code=422,
        )  # fmt: skip
    await update_site(call.context.storage, site.id, name, origins, settings)
    return call.back(f"/admin/sites/{site.id}", done="saved")


@admin_page
async def add_ban(call: AdminCall) -> Response:
    site = await site_of(call)
    every_site = call.field("scope") == "all"
    try:
        await moderating.add_ban(
            call.context.storage, call.admin, None if every_site else site.id,
            call.field("kind"), call.field("value"), call.field("note"),
        )  # fmt: skip
    except ClientError as exc:
        return await _render_site(call, site, error=exc.message, status_code=exc.status)
    return call.back(f"/admin/sites/{site.id}", done="banned")


@admin_page
async def remove_ban(call: AdminCall) -> Response:
    site = await site_of(call)
    ban_id = number_param(call, "ban_id", "ban")
    await moderating.remove_ban(call.context.storage, call.admin, site.id, ban_id)
    return call.back(f"/admin/sites/{site.id}", done="unbanned")


@admin_page
async def new_site(call: AdminCall) -> Response:
    if call.admin.sites is not None:
        raise NotFound("Only an admin of every site can add sites.")
    site_id = call.field("site").strip()
    try:
        origins = _origins(call.field("origins"))
        site = await add_site(call.context.storage, site_id, origins, call.field("name"))
    except (Invalid, Conflict) as exc:  # a database that cannot take it stays a 503
        raise Invalid(f"The site was not added: {exc.message}") from None
    return call.back(f"/admin/sites/{site.id}", done="site")


routes = [
    Route("/admin/sites", new_site, methods=["POST"]),
    Route("/admin/sites/{site}", site_page, methods=["GET"]),
    Route("/admin/sites/{site}", save_site, methods=["POST"]),
    Route("/admin/sites/{site}/bans", add_ban, methods=["POST"]),
    Route("/admin/sites/{site}/bans/{ban_id}/remove", remove_ban, methods=["POST"]),
]

"""The configurator: a site owner chooses theme, language, order and page size, sees the real
widget as their readers will, and copies the snippet. A page address from an origin the site
does not allow yet is offered for adding (the preview would be refused otherwise).

The page works without its script (a GET form redraws it); static/admin.js redraws the snippet
and the preview as the choices change, copies the snippet, and sizes the preview."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from widget.records import Site
from widget.sites import SITE_SETTINGS, add_origin, change_site_settings
from widget.urls import origin_of, split_url

from .admin import AdminCall, admin_page
from .admin_sites import site_of
from .html import THEMES
from .i18n import LANGUAGES
from .security import admin_headers

__all__ = ["routes", "snippet"]

# What the configurator sets on the site itself (the rest are the snippet's attributes).
SITE_CHOICES = ("order", "page_size")
PREVIEW_TITLE = "Preview of the comments"
# The frame's languages as the admin (in English) names them: a site owner need not know
# that "uk" is Ukrainian. A language the table does not name yet shows by its code.
LANGUAGE_NAMES = {
    "en": "English", "de": "German", "ru": "Russian", "fr": "French", "es": "Spanish",
    "pt": "Portuguese (Brazil)", "it": "Italian", "pl": "Polish", "uk": "Ukrainian",
    "tr": "Turkish", "ja": "Japanese", "zh": "Chinese (Simplified)", "ar": "Arabic",
}  # fmt: skip


def snippet(public_url: str, site_id: str, theme: str, lang: str) -> str:
    """What a site owner pastes where the comments go."""
    attributes = f' data-site="{site_id}"'
    if theme != "auto":
        attributes += f' data-theme="{theme}"'
    if lang:
        attributes += f' data-lang="{lang}"'
    script = f'<script src="{public_url}/embed.js"{attributes} async></script>'
    return f'<div id="comments"></div>\n{script}'


def _preview_src(site: Site, page_url: str, theme: str, lang: str) -> str:
    parts = split_url(page_url)
    path = parts.path if parts and parts.path else "/"
    query = {"page": path, "url": page_url, "title": PREVIEW_TITLE, "theme": theme, "lang": lang}
    return f"/embed/{site.id}/thread?{urlencode(query)}"


@admin_page
async def configurator(call: AdminCall) -> Response:
    site = await site_of(call)
    params = call.request.query_params
    theme = params.get("theme", "auto")
    theme = theme if theme in THEMES else "auto"
    lang = params.get("lang", "")
    lang = lang if lang in LANGUAGES else ""
    page_url = params.get("url", "").strip() or (site.origins[0] + "/" if site.origins else "")
    parts = split_url(page_url)
    missing_origin = ""
    url_error = ""
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        url_error = (
            "Enter the address of a page of your site, such as https://blog.example/a-post/."
        )
    elif origin_of(parts) not in site.origins:
        missing_origin = origin_of(parts)
    preview = _preview_src(site, page_url, theme, lang) if not (url_error or missing_origin) else ""
    response = call.render(
        "admin/embed.html",
        {
            "title": f"Embed {site.id}",
            "site": site,
            "site_id": site.id,
            "sites": await call.sites(),
            "themes": THEMES,
            "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES],
            "theme": theme,
            "frame_lang": lang,  # `lang` would be the admin page's own (admin/_base.html)
            "page_url": page_url,
            "url_error": url_error,
            "missing_origin": missing_origin,
            "preview": preview,
            "snippet": snippet(call.context.settings.public_url, site.id, theme, lang),
            "choices": [s for s in SITE_SETTINGS if s.name in SITE_CHOICES],
            "values": {s.name: site.settings.get(s.name, s.default)
                       for s in SITE_SETTINGS if s.name in SITE_CHOICES},
            "public_url": call.context.settings.public_url,
        },
    )  # fmt: skip
    # The preview is our own thread document in a frame of this page.
    response.headers["Content-Security-Policy"] = (
        admin_headers()["Content-Security-Policy"] + "; frame-src 'self'"
    )
    return response


def _back(call: AdminCall, site: Site, done: str) -> Response:
    query = {key: call.field(key) for key in ("url", "theme", "lang") if call.field(key)}
    return call.back(f"/admin/sites/{site.id}/embed?{urlencode(query)}", done=done)


@admin_page
async def allow_origin(call: AdminCall) -> Response:
    site = await site_of(call)
    await add_origin(call.context.storage, site.id, call.field("origin"))
    return _back(call, site, "saved")


@admin_page
async def save_choices(call: AdminCall) -> Response:
    site = await site_of(call)
    # Both at once: a wrong value is refused with what to enter instead, and nothing is saved
    # (the page says so), not the order without the page size.
    choices = {name: call.field(name) for name in SITE_CHOICES}
    await change_site_settings(call.context.storage, site.id, choices)
    return _back(call, site, "saved")


routes = [
    Route("/admin/sites/{site}/embed", configurator, methods=["GET"]),
    Route("/admin/sites/{site}/embed/origins", allow_origin, methods=["POST"]),
    Route("/admin/sites/{site}/embed/settings", save_choices, methods=["POST"]),
]

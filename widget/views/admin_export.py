"""Exports for admins: a download from the admin pages, and the same through the admin API
with a token (`widget admin token EMAIL`), for backups run by cron:

    curl -H "Authorization: Bearer $TOKEN" \
      "https://comments.example/api/v1/admin/export?site=blog&format=jsonl" > blog.jsonl

Both read the export into a temporary file first, then send it (see exporter.spooled): the
database is read at its own pace, whatever the client's, and the download has a length.
"""

from __future__ import annotations

import logging
import os

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from widget.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from widget.records import Admin
from widget.sites import get_site
from widget.urls import page_id_of

from .admin import AdminCall, admin_page
from .context import AppContext, app_context

__all__ = ["routes"]

log = logging.getLogger(__name__)


async def _export(
    context: AppContext, admin: Admin, site_id: str, format_name: str, thread: str
) -> Response:
    if not site_id:
        raise BadRequest("Say which site to export: ?site=SITE.")
    if not admin.may_manage(site_id):
        raise NotFound("There is no such site among those you manage.")
    await get_site(context.storage, site_id)
    # The exporters (and the XML libraries they use) load with the first export, not with
    # every server: most servers never export.
    from widget.porting.exporter import (
        export_chunks,
        export_filename,
        read_back,
        spooled,
        writer_for,
    )

    writer = writer_for(format_name or "jsonl")
    page_id = page_id_of(thread) if thread.strip() else None
    if page_id is not None and await context.storage.get_thread_head(site_id, page_id) is None:
        raise NotFound(f"The site {site_id} has no thread for {page_id}.")
    filename = export_filename(site_id, writer, page_id)
    try:
        export = await spooled(export_chunks(context.storage, writer, [site_id], page_id))
    except OSError as exc:
        log.error("export of site %s not made: it cannot be written in the temporary folder"
                  " (TMPDIR; a full disk?): %s", site_id, exc)  # fmt: skip
        raise ServiceUnavailable(
            "The export cannot be prepared right now; try again later.", retry_after_s=60
        ) from exc
    size = os.fstat(export.fileno()).st_size
    return StreamingResponse(
        read_back(export),
        media_type=writer.media_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@admin_page
async def download(call: AdminCall) -> Response:
    params = call.request.query_params
    return await _export(call.context, call.admin, call.request.path_params["site"],
                         params.get("format", ""), params.get("thread", ""))  # fmt: skip


async def api_export(request: Request) -> Response:
    context = app_context(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    admin = await context.admin.admin_for_api(token.strip()) if scheme.lower() == "bearer" else None
    if admin is None:
        raise Forbidden(
            "Send an admin API token: Authorization: Bearer TOKEN (widget admin token EMAIL)."
        )
    params = request.query_params
    return await _export(context, admin, params.get("site", ""), params.get("format", ""),
                         params.get("thread", ""))  # fmt: skip


routes = [
    Route("/admin/sites/{site}/export", download, methods=["GET"]),
    Route("/api/v1/admin/export", api_export, methods=["GET"]),
]

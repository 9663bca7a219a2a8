"""The application factory: `create_app(settings)` builds everything; nothing happens at import."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Host, Route

from widget import demo
from widget.akismet import Akismet
from widget.auth.admins import AdminAuth
from widget.auth.signin import SignIn
from widget.auth.tokens import TokenSigner
from widget.config import Settings, load_settings
from widget.events import EventHub
from widget.notify.mail import Mailer, MailTemplates
from widget.notify.outbox import Outbox
from widget.notify.plan import NotificationPlanner
from widget.notify.webhooks import Webhooks
from widget.render_workers import RenderWorkers
from widget.serving import file_budget
from widget.storage import Storage, storage_for_settings
from widget.views import admin, api, auth, embed, notify, own_data
from widget.views import events as live
from widget.views.assets import Assets
from widget.views.context import AppContext, app_context
from widget.views.errors import exception_handlers
from widget.views.html import HtmlRenderer

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    try:
        await app_context(request).storage.ping()
    except Exception:
        log.exception("health check failed")
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def _outbox(settings: Settings, storage: Storage, signer: TokenSigner) -> Outbox:
    planner = NotificationPlanner(settings, storage, signer, MailTemplates())
    return Outbox(settings, storage, planner, Mailer(settings), Webhooks(settings.secret_key))


def create_app(
    settings: Settings | None = None,
    storage: Storage | None = None,
    provider_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The application. `provider_transport` replaces the network under sign-in providers that
    cannot be reached from a test machine (GitHub, Google, ...)."""
    settings = settings or load_settings()
    storage = storage or storage_for_settings(settings)
    assets = Assets()
    # Each live reader holds a connection, and so an open file: fewer than the process has.
    readers = min(settings.live_readers_total, file_budget().live_readers)
    events = EventHub(settings.live_readers_per_thread, readers)
    storage.on_event(events.publish)
    sign_in = SignIn(settings, storage, provider_transport)
    html = HtmlRenderer(settings, assets, storage)
    html.provider_names.update({name: p.display_name for name, p in sign_in.providers.items()})
    signer = TokenSigner(settings.secret_key)
    context = AppContext(
        settings=settings,
        storage=storage,
        signer=signer,
        assets=assets,
        html=html,
        events=events,
        sign_in=sign_in,
        akismet=Akismet(
            settings.akismet_key, settings.akismet_blog_url or settings.public_url,
            settings.akismet_url,
        ) if settings.akismet_key else None,
        admin=AdminAuth(storage, signer, settings.admin_session_hours),
        outbox=_outbox(settings, storage, signer),
        render_workers=RenderWorkers(settings.render_cpu_limit_s),
    )  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await storage.open()
        try:
            if settings.demo:
                await demo.ensure_demo_site(storage, settings)
            context.outbox.start()
            yield
        finally:
            await context.outbox.stop()
            events.close()
            context.render_workers.close()
            await storage.close()

    routes: list[BaseRoute] = [
        *embed.routes,  # the hottest routes first: matching goes down the list
        *api.routes,
        *live.routes,
        *auth.routes(settings),
        *assets.routes(),
        *admin.routes(),
        *notify.routes,
        *own_data.routes,
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
    ]
    if settings.demo:
        # The demo blog is another site (another host name) so that its embed is cross-site.
        # None of the routes above answers "/", so the demo's home page falls through to here.
        routes.append(Host(demo.DEMO_HOST, demo.create_demo_app(settings)))
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=exception_handlers)
    app.state.widget = context
    return app

"""The application factory: `create_app(settings)` builds everything; nothing happens at import."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Host, Route

from widget import demo
from widget.auth.admins import AdminAuth, Passwords
from widget.auth.signin import SignIn
from widget.auth.tokens import TokenSigner
from widget.config import Settings, load_settings
from widget.errors import StorageUnavailable
from widget.live import EventHub
from widget.metrics import Metrics, metrics_for
from widget.moderation.akismet import Akismet
from widget.notify.mail import Mailer, MailTemplates
from widget.notify.new_posts import FeedPoller
from widget.notify.outbox import Outbox
from widget.notify.plan import NotificationPlanner
from widget.notify.webhooks import Webhooks
from widget.outbound import Outbound, Resolver, system_resolver
from widget.page_titles import PageTitles
from widget.render_workers import RenderWorkers
from widget.serving import file_budget
from widget.startup import open_storage
from widget.storage import Storage, storage_for_settings
from widget.views import admin, api, auth, email_sign_in, embed, feeds, live, notify, own_data
from widget.views import demo as demo_page
from widget.views import metrics as prometheus
from widget.views import passkeys as passkey_pages
from widget.views.assets import installed_assets
from widget.views.context import AppContext, app_context
from widget.views.errors import RetryAfterUnavailable, exception_handlers
from widget.views.html import HtmlRenderer
from widget.views.i18n import Translator
from widget.views.kept_answers import KeptAnswers
from widget.views.metrics import RequestMetrics
from widget.views.request_log import RequestLines, RequestLog
from widget.views.security import SecurityHeaders

if TYPE_CHECKING:
    import httpx

__all__ = ["create_app"]


async def healthz(request: Request) -> Response:
    """Alive: the process answers. It asks nothing of the database, so that a database outage
    does not get healthy processes restarted (that is what /readyz is for)."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> Response:
    """Ready: the database can be read and written right now. Load balancers send traffic to
    an instance only while this says 200."""
    headers = {"Cache-Control": "no-store"}
    try:
        await app_context(request).storage.check_ready()
    except StorageUnavailable:  # the storage has logged why
        return JSONResponse({"status": "database unavailable"}, 503, headers)
    return JSONResponse({"status": "ready"}, headers=headers)


def _outbox(
    settings: Settings, storage: Storage, signer: TokenSigner, outbound: Outbound,
    metrics: Metrics,
) -> Outbox:  # fmt: skip
    planner = NotificationPlanner(settings, storage, signer, MailTemplates(Translator))
    webhooks = Webhooks(settings.secret_key, outbound)
    titles = PageTitles(storage, outbound)
    return Outbox(settings, storage, planner, Mailer(settings), webhooks, metrics, titles)


def create_app(
    settings: Settings | None = None,
    storage: Storage | None = None,
    provider_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = system_resolver,
) -> Starlette:
    """The application. `provider_transport` replaces the network under sign-in providers that
    cannot be reached from a test machine (GitHub, Google, ...); `resolver` stands in for DNS
    under every request this server makes to others."""
    settings = settings or load_settings()
    storage = storage or storage_for_settings(settings)
    assets = installed_assets()
    # Each live reader holds a connection, and so an open file: fewer than the process has.
    readers = min(settings.live_readers_total, file_budget().live_readers)
    events = EventHub(settings.live_readers_per_thread, readers, settings.live_readers_per_network)
    storage.on_event(events.publish, events.missed)
    outbound = Outbound(settings.outbound_private_networks, resolver)
    sign_in = SignIn(settings, storage, outbound, provider_transport)
    html = HtmlRenderer(settings, assets, storage)
    html.provider_names.update({name: p.display_name for name, p in sign_in.providers.items()})
    signer = TokenSigner(settings.secret_key)
    metrics = metrics_for(settings)
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
            settings.akismet_url, outbound,
        ) if settings.akismet_key else None,
        admin=AdminAuth(
            storage, signer, Passwords.from_settings(settings), settings.admin_session_hours
        ),
        outbox=_outbox(settings, storage, signer, outbound, metrics),
        feed_poller=FeedPoller(settings, storage, outbound, signer, MailTemplates(Translator)),
        metrics=metrics,
        outbound=outbound,
        render_workers=RenderWorkers(settings.render_cpu_limit_s),
    )  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await open_storage(storage, settings)
        try:
            context.outbox.start()
            if settings.mail_enabled:  # new posts are told by email only
                context.feed_poller.start()
            yield
        finally:
            await context.feed_poller.stop()
            context.feed_poller.close()
            await context.outbox.stop()
            await html.close()
            events.close()
            context.render_workers.close()
            await storage.close()

    routes: list[BaseRoute] = [
        # The hottest routes first: matching goes down the list, a couple of microseconds a
        # route. Index pages ask for counts on every view, and the counts route is the
        # cheapest answer of all, so the matching is a good part of its cost.
        api.counts_route,
        *embed.routes,
        *api.routes,
        *live.routes,
        *feeds.routes,
        *email_sign_in.routes,
        *passkey_pages.routes(settings),  # before auth's: /auth/passkey/start is not a provider's
        *auth.routes(settings),
        *assets.routes(),
        *admin.routes(),
        *notify.routes,
        *own_data.routes,
        *prometheus.routes(),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
    ]
    if settings.demo:
        # The demo blog is another site (another host name) so that its embed is cross-site.
        # None of the routes above answers "/", so the demo's home page falls through to here.
        routes.append(Host(demo.DEMO_HOST, demo_page.create_demo_app(settings)))
    request_lines = RequestLines(settings.trusted_proxies)
    # Outermost first: kept answers go before the rest (with what the rest would give them);
    # every answer, the request log's own 500 page included, gets the security headers; every
    # request gets its log line and id; every 503 a Retry-After.
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(RequestLog, lines=request_lines),
        Middleware(RetryAfterUnavailable),
    ]
    if metrics.counting:
        # Counting and timing every request costs about what the request log does: only when
        # something scrapes them (metrics_token set). They count by route, so then every
        # request goes the whole way, kept answers included.
        middleware.append(Middleware(RequestMetrics, metrics=metrics))
    else:
        kept = {
            api.counts_route.path: api.kept_counts(context),
            embed.document_route.path: embed.kept_documents(context),
        }
        middleware.insert(0, Middleware(KeptAnswers, kept=kept, lines=request_lines))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=exception_handlers,
        middleware=middleware,
    )
    app.state.widget = context
    return app

"""The demo blog: a post at http://blog.localhost:PORT/ whose comments come from this server at
its public URL, a different site, so that the demo is a real cross-site embed. The page itself
is served by widget/views/demo.py."""

from __future__ import annotations

from widget.config import Settings
from widget.storage import Refused, Storage

__all__ = ["DEMO_HOST", "DEMO_SITE", "demo_origin", "ensure_demo_site"]

DEMO_HOST = "blog.localhost"
DEMO_SITE = "demo"


def demo_origin(settings: Settings) -> str:
    port = settings.public_port
    default = 443 if settings.public_url.startswith("https:") else 80
    scheme = settings.public_url.split(":", 1)[0]
    return f"{scheme}://{DEMO_HOST}" + ("" if port == default else f":{port}")


async def ensure_demo_site(storage: Storage, settings: Settings) -> None:
    """Create the demo site, or give it back its origin if the port has changed. Instances
    starting at once on one new database all run this: one creates the site, the others find
    it made."""
    origin = demo_origin(settings)
    site = await storage.get_site(DEMO_SITE)
    if site is None:
        try:
            await storage.add_site(DEMO_SITE, "The demo blog", [origin], {})
            return
        except Refused:  # another instance made it in the meantime
            site = await storage.get_site(DEMO_SITE)
            assert site is not None
    if origin not in site.origins:
        await storage.update_site(DEMO_SITE, origins=[*site.origins, origin])

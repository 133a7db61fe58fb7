"""How every HTTP server of ours is run by uvicorn, in one place: which proxies may name the
client (X-Forwarded-For) is a setting, never uvicorn's own default, which trusts 127.0.0.1 and
so lets any local process put another client address into the records."""

from __future__ import annotations

from typing import Any

import uvicorn

from serialtrail_kit.settings import Settings


def server_config(app: Any, settings: Settings, *, log_level: str = "info") -> uvicorn.Config:
    trusted = settings.trusted_proxies.strip()
    return uvicorn.Config(
        app, log_level=log_level, access_log=False, proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None
    )

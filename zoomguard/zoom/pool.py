"""The HTTP adapter under ``ZoomTransport``: requests' own, with its pool keys cached."""

from __future__ import annotations

from typing import Any

from requests.adapters import HTTPAdapter


class PoolKeyCachingAdapter(HTTPAdapter):
    """An HTTPAdapter that builds each connection pool's key once, not on every request.

    requests rebuilds it per request, and when a CA bundle is configured (REQUESTS_CA_BUNDLE,
    as on many managed machines) asks the file system each time whether the bundle is a
    directory: 6 % of a sweep's CPU. The key depends only on the URL's scheme, host and port
    and on ``verify`` and ``cert`` (requests' documented way to change it is this override).
    """

    _MAX_KEYS = 16  # one API host in practice; a bound all the same

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool_keys: dict[tuple[str, Any, Any], Any] = {}

    def build_connection_pool_key_attributes(
        self, request: Any, verify: Any, cert: Any = None
    ) -> Any:
        origin = "/".join(str(request.url).split("/", 3)[:3])  # "https://api.zoom.us:443"
        key = (origin, verify, cert)
        cached = self._pool_keys.get(key)
        if cached is None:
            cached = super().build_connection_pool_key_attributes(request, verify, cert)
            if len(self._pool_keys) < self._MAX_KEYS:
                self._pool_keys[key] = cached
        host_params, pool_kwargs = cached
        # Copies: the caller may change them (requests' own code does not today).
        return dict(host_params), dict(pool_kwargs)

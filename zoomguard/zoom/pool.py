"""The HTTP adapter under ``ZoomTransport``: requests' own, with what it works out again on
every request, for a route that never changes, worked out once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from requests.adapters import HTTPAdapter

_MAX_CACHED = 16  # one API host in practice; a bound all the same


def _origin(url: str) -> str:
    return "/".join(url.split("/", 3)[:3])  # "https://api.zoom.us:443"


class PoolKeyCachingAdapter(HTTPAdapter):
    """An HTTPAdapter that finds each request's connection pool once per route, not per request.

    Per request requests builds the pool's key (and, when a CA bundle is configured, as on many
    managed machines, asks the file system whether it is a directory: 6 % of a sweep's CPU),
    parses the URL twice to match it against the proxies and looks the pool up in urllib3's
    pool manager: together another 6 %. All of it depends only on the URL's scheme, host and
    port, on ``verify`` and ``cert`` and on the proxies, which a transport fixes when it starts.
    These are the overrides requests documents for subclasses, and the pool is the one requests
    would use (one the manager evicts stays usable: urllib3 drops it without closing it).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool_keys: dict[tuple[str, Any, Any], Any] = {}
        self._pools: dict[tuple[str, Any, Any, tuple[tuple[str, str], ...]], Any] = {}

    def build_connection_pool_key_attributes(
        self, request: Any, verify: Any, cert: Any = None
    ) -> Any:
        key = (_origin(str(request.url)), verify, cert)
        cached = self._pool_keys.get(key)
        if cached is None:
            cached = super().build_connection_pool_key_attributes(request, verify, cert)
            if len(self._pool_keys) < _MAX_CACHED:
                self._pool_keys[key] = cached
        host_params, pool_kwargs = cached
        # Copies: the caller may change them (requests' own code does not today).
        return dict(host_params), dict(pool_kwargs)

    def get_connection_with_tls_context(
        self,
        request: Any,
        verify: Any,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        key = (_origin(str(request.url)), verify, cert, tuple(sorted((proxies or {}).items())))
        pool = self._pools.get(key)
        if pool is None:
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._pools) < _MAX_CACHED:
                self._pools[key] = pool
        return pool

    def close(self) -> None:
        # urllib3's manager forgets its pools without closing them (they close when collected);
        # the ones kept here would never be collected while the adapter lives: close them.
        pools, self._pools = list(self._pools.values()), {}
        super().close()
        for pool in pools:
            pool.close()

    def request_url(self, request: Any, proxies: Mapping[str, str] | None) -> str:
        # Without proxies requests always sends the path (and query) alone.
        if not proxies:
            return str(request.path_url)
        return str(super().request_url(request, proxies))

"""The transport's adapter finds a route's connection pool once, and behaves as requests' own."""

from __future__ import annotations

import requests

from zoomguard.zoom.pool import PoolKeyCachingAdapter


def prepared(url: str) -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def test_one_pool_per_route_reused_across_requests() -> None:
    adapter = PoolKeyCachingAdapter()
    first = adapter.get_connection_with_tls_context(prepared("https://api.zoom.us/v2/users"), True)
    again = adapter.get_connection_with_tls_context(
        prepared("https://api.zoom.us/v2/meetings/1?x=1"), True
    )
    other_host = adapter.get_connection_with_tls_context(prepared("https://zoom.us/oauth"), True)
    assert again is first
    assert other_host is not first
    assert (first.host, first.port) == ("api.zoom.us", 443)


def test_closing_the_adapter_closes_the_pools_it_kept() -> None:
    adapter = PoolKeyCachingAdapter()
    pool = adapter.get_connection_with_tls_context(prepared("https://api.zoom.us/v2/users"), True)
    adapter.close()
    assert pool.pool is None


def test_proxies_and_verify_are_part_of_the_route() -> None:
    adapter = PoolKeyCachingAdapter()
    direct = adapter.get_connection_with_tls_context(prepared("http://api.test/v2/users"), True)
    proxied = adapter.get_connection_with_tls_context(
        prepared("http://api.test/v2/users"), True, proxies={"http": "http://proxy.test:3128"}
    )
    unverified = adapter.get_connection_with_tls_context(
        prepared("http://api.test/v2/users"), False
    )
    assert proxied is not direct
    assert (proxied.host, proxied.port) == ("proxy.test", 3128)
    assert unverified is not direct


def test_the_url_sent_is_the_path_without_a_proxy_and_whole_through_one() -> None:
    adapter = PoolKeyCachingAdapter()
    request = prepared("http://api.test/v2/users?page_size=300")
    assert adapter.request_url(request, {}) == "/v2/users?page_size=300"
    assert adapter.request_url(request, None) == "/v2/users?page_size=300"
    through_proxy = adapter.request_url(request, {"http": "http://proxy.test:3128"})
    assert through_proxy == "http://api.test/v2/users?page_size=300"

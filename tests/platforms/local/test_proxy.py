"""The router's HTTP mechanics with real servers: keep-alive, streaming, headers, upgrades,
retries exactly as the rules say, timeouts and statistics."""

from __future__ import annotations

import socket

import httpx
import pytest
import websockets.sync.client

from nahtlos.platforms.local.proxy import ProxyTimeouts
from tests.apps.tinyapp import TinyApp
from tests.fixtures.asgi import closed_port, serve_asgi
from tests.platforms.local.inprocess import ScriptedBackend, running_router


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
def tiny_backends():
    with serve_asgi(TinyApp("m", "1.0.0", downstream=None)) as one, \
            serve_asgi(TinyApp("m", "2.0.0", downstream=None)) as two:
        yield one, two


@pytest.fixture
def router(tiny_backends):
    with running_router() as handle:
        handle.add("1.0.0", port_of(tiny_backends[0]), 100)
        yield handle


def test_one_client_connection_carries_many_requests_and_the_backend_connection_is_reused(router):
    with httpx.Client(base_url=router.service_url) as client:
        for _ in range(20):
            assert client.get("/whoami").json() == {"module": "m", "version": "1.0.0"}
    assert len(router.call(lambda: router.routes.backends["1.0.0"].idle)) == 1


def test_a_chunked_upload_streams_through_and_comes_back_intact(router):
    parts = [bytes([i]) * 50_000 for i in range(40)]  # 2 MB in chunks, no Content-Length
    with httpx.Client(base_url=router.service_url, timeout=30) as client:
        response = client.post("/echo", content=iter(parts))
    assert response.status_code == 200
    assert response.content == b"".join(parts)
    assert response.headers["x-version"] == "1.0.0"


def test_a_chunked_response_is_streamed_to_the_client(router):
    with httpx.Client(base_url=router.service_url) as client:
        with client.stream("GET", "/stream?chunks=5") as response:
            assert response.headers["transfer-encoding"] == "chunked"
            lines = list(response.iter_lines())
    assert lines == [f"1.0.0 part {i}" for i in range(5)]


def test_hop_by_hop_headers_are_dropped_and_forwarding_headers_added(router):
    headers = {"Connection": "keep-alive, X-Hop", "X-Hop": "secret", "Keep-Alive": "timeout=5", "TE": "trailers",
               "X-Forwarded-For": "203.0.113.7", "X-End-To-End": "kept"}
    with httpx.Client(base_url=router.service_url) as client:
        seen = dict(client.get("/headers", headers=headers).json()["headers"])
    assert "x-hop" not in seen and "keep-alive" not in seen and "te" not in seen
    assert seen["x-end-to-end"] == "kept"
    assert seen["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == seen["host"]


def test_a_head_request_gets_no_body_and_the_connection_stays_usable(router):
    with httpx.Client(base_url=router.service_url) as client:
        head = client.head("/whoami")
        assert head.status_code == 200 and head.content == b""
        assert client.get("/whoami").json()["version"] == "1.0.0"


def test_websocket_connections_are_tunnelled_to_the_version(router):
    with websockets.sync.client.connect(router.service_url.replace("http", "ws") + "/ws") as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "1.0.0: hello"
        ws.send("again")
        assert ws.recv(timeout=5) == "1.0.0: again"
    assert router.call(lambda: router.routes.backends["1.0.0"].in_flight) == 0


def test_the_entry_pins_a_new_session_with_its_cookie_and_keeps_it_on_its_version(tiny_backends):
    with running_router() as router:
        router.add("1.0.0", port_of(tiny_backends[0]), 50)
        router.add("2.0.0", port_of(tiny_backends[1]), 50)
        with httpx.Client(base_url=router.entry_url) as client:
            first = client.get("/whoami").json()["version"]
            assert client.cookies["nahtlos_pin"].endswith("-" + first)
            assert {client.get("/whoami").json()["version"] for _ in range(10)} == {first}
        with httpx.Client(base_url=router.service_url) as internal:  # behind the entry: no router cookie
            response = internal.get("/whoami")
            assert "set-cookie" not in response.headers
            assert {internal.get("/whoami").json()["version"] for _ in range(4)} == {"1.0.0", "2.0.0"}


def test_a_refused_connection_is_retried_on_another_version_even_for_post(tiny_backends):
    with running_router() as router:
        dead = router.add("0.9.0", closed_port(), 100)
        router.add("1.0.0", port_of(tiny_backends[0]), 0)
        with httpx.Client(base_url=router.service_url) as client:
            response = client.post("/echo", content=b"payload")
        assert (response.status_code, response.content) == (200, b"payload")
        assert router.call(lambda: (dead.ready, dead.stats.connection_errors)) == (False, 1)


@pytest.mark.parametrize("method, retried", [("GET", True), ("PUT", True), ("DELETE", True), ("POST", False)])
def test_after_a_reset_only_idempotent_requests_are_retried(method, retried):
    with running_router() as router:
        resetting = router.run(ScriptedBackend("reset").start())
        healthy = router.run(ScriptedBackend("ok", name="healthy").start())
        router.add("1.0.0", resetting.port, 100)
        router.add("2.0.0", healthy.port, 0)
        with httpx.Client(base_url=router.service_url) as client:
            response = client.request(method, "/thing", content=b"body" if method != "GET" else None)
        assert resetting.requests == [method.encode()]  # it reached the backend exactly once
        if retried:
            assert (response.status_code, response.text) == (200, "healthy")
            assert healthy.requests == [method.encode()]
        else:
            assert response.status_code == 502
            assert response.json()["error"] == "bad_gateway"
            assert healthy.requests == []
        stats = router.call(lambda: router.routes.backends["1.0.0"].stats)
        assert stats.connection_errors == 1


def test_a_version_that_never_answers_gets_a_504_after_the_response_timeout():
    with running_router(timeouts=ProxyTimeouts(response=0.5)) as router:
        silent = router.run(ScriptedBackend("silent").start())
        router.add("1.0.0", silent.port, 100)
        with httpx.Client(base_url=router.service_url, timeout=5) as client:
            response = client.get("/slow")
        assert response.status_code == 504
        assert router.call(lambda: (router.routes.backends["1.0.0"].stats.by_class[5],
                                    router.routes.backends["1.0.0"].in_flight)) == (1, 0)


def test_without_a_ready_version_the_router_answers_503_with_a_json_reason():
    with running_router() as router:
        with httpx.Client(base_url=router.service_url) as client:
            response = client.get("/")
        assert response.status_code == 503
        assert response.json() == {"error": "service_unavailable", "message": "no ready version of this module",
                                   "module": "m"}


def test_a_malformed_request_gets_400_and_the_connection_is_closed(router):
    with socket.create_connection(("127.0.0.1", port_of(router.service_url)), timeout=5) as sock:
        sock.sendall(b"GARBAGE \x00\x01 nonsense\r\n\r\n")
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400")
        assert sock.recv(4096) == b""


def test_statistics_count_statuses_and_latencies_per_version(router):
    with httpx.Client(base_url=router.service_url) as client:
        for _ in range(3):
            client.get("/whoami")
        client.get("/missing")
    stats = router.call(lambda: router.routes.backends["1.0.0"].stats.to_model())
    assert (stats.requests, stats.status_2xx, stats.status_4xx) == (4, 3, 1)
    assert stats.latency_buckets[60.0] == 4 and stats.latency_sum_seconds > 0
    text = router.call(router.router.prometheus)
    assert 'nahtlos_requests_total{app="test",module="m",version="1.0.0",code="2xx"} 3' in text
    assert 'nahtlos_request_duration_seconds_count{app="test",module="m",version="1.0.0"} 4' in text

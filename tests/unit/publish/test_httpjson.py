"""The JSON client's answer handling, through httpx's MockTransport, and its proxy rule on real sockets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tierwise.masking import register_secret
from tierwise.publish.errors import DestinationUnavailableError
from tierwise.publish.httpjson import JsonHttpClient, json_body
from tierwise.publish.retry import RateLimiter, RetryPolicy

Handler = Callable[[httpx.Request], httpx.Response]
FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02)


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A transport handler serving ``answers`` in turn (an exception is raised), and the requests seen."""
    seen: list[httpx.Request] = []
    pending = iter(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(pending)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


def client(
    handler: Handler, sleeps: list[float], *, policy: RetryPolicy = FAST, timeout: float = 30.0
) -> JsonHttpClient:
    return JsonHttpClient(
        "https://crm.test/api/",
        headers={"Authorization": "Bearer t0ken-value"},
        timeout=timeout,
        policy=policy,
        sleep=sleeps.append,
        transport=httpx.MockTransport(handler),
    )


def in_seconds(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


def test_posts_json_with_the_headers_and_returns_the_parsed_answer() -> None:
    handler, seen = scripted(httpx.Response(200, json={"status": "COMPLETE"}))
    with client(handler, []) as http:
        response = http.post("/objects", {"inputs": [1]})
    assert (response.status_code, json_body(response)) == (200, {"status": "COMPLETE"})
    request = seen[0]
    assert str(request.url) == "https://crm.test/api/objects"
    assert json.loads(request.content) == {"inputs": [1]}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer t0ken-value"


def test_the_base_url_is_used_as_given_without_a_trailing_slash() -> None:
    # A webhook URL is the whole address: httpx's base_url would add a "/".
    handler, seen = scripted(httpx.Response(200))
    JsonHttpClient("https://hooks.test/services/T1/B2", transport=httpx.MockTransport(handler)).post("", {})
    assert str(seen[0].url) == "https://hooks.test/services/T1/B2"


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_waits_as_long_as_retry_after_says(form: str) -> None:
    retry_after = "2" if form == "seconds" else in_seconds(2)  # HTTP dates have whole seconds
    sleeps: list[float] = []
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": retry_after}), httpx.Response(200))
    assert client(handler, sleeps).post("/objects", {}).status_code == 200
    assert len(seen) == 2 and 1.0 <= sleeps[0] <= 2.01


def test_5xx_is_retried_with_capped_backoff_then_the_destination_is_unavailable() -> None:
    sleeps: list[float] = []
    handler, seen = scripted(*[httpx.Response(503, text="down")] * 3)
    with pytest.raises(
        DestinationUnavailableError, match=r"crm.test/api/objects: gave up after 3 tries: HTTP 503"
    ):
        client(handler, sleeps).post("/objects", {})
    assert len(seen) == 3 and len(sleeps) == 2 and all(0 <= pause <= 0.02 for pause in sleeps)


def test_a_retry_after_beyond_the_limit_gives_up_at_once() -> None:
    sleeps: list[float] = []
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(DestinationUnavailableError, match="server asked to wait 3600s"):
        client(handler, sleeps, policy=RetryPolicy(max_retry_after=60)).post("/objects", {})
    assert len(seen) == 1 and sleeps == []


@pytest.mark.parametrize("status", [200, 207, 400, 401, 404])
def test_other_answers_are_returned_untried(status: int) -> None:
    handler, seen = scripted(httpx.Response(status, json={"message": "as is"}))
    response = client(handler, []).post("/objects", {})
    assert response.status_code == status and len(seen) == 1


def test_timeouts_and_broken_connections_are_retried() -> None:
    sleeps: list[float] = []
    handler, seen = scripted(httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.Response(200))
    assert client(handler, sleeps, timeout=0.5).post("/objects", {}).status_code == 200
    assert len(seen) == 3
    handler, _ = scripted(*[httpx.ReadTimeout("slow")] * 3)
    with pytest.raises(DestinationUnavailableError, match=r"timed out after 0.5s"):
        client(handler, sleeps, timeout=0.5).post("/objects", {})


def test_secrets_in_an_error_are_masked() -> None:
    register_secret("s3cr3t-in-a-message")
    handler, _ = scripted(*[httpx.ConnectError("proxy refused s3cr3t-in-a-message")] * 3)
    with pytest.raises(DestinationUnavailableError) as failure:
        client(handler, []).post("/objects", {})
    assert "s3cr3t" not in str(failure.value) and "***" in str(failure.value)


def test_each_try_is_signed_afresh_and_waits_for_the_rate_limiter() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    signatures = iter(["first", "second"])
    handler, seen = scripted(httpx.Response(500), httpx.Response(200))
    http = JsonHttpClient(
        "https://crm.test",
        policy=RetryPolicy(base_delay=0),
        limiter=RateLimiter(1, 10.0, clock=lambda: now[0]),
        sleep=sleep,
        transport=httpx.MockTransport(handler),
    )
    http.post("/objects", {}, sign=lambda body: {"X-Signature": next(signatures)})
    assert [request.headers["X-Signature"] for request in seen] == ["first", "second"]
    assert sleeps == [0.0, 10.0]  # the backoff (base 0), then the limiter's window


def test_json_body_falls_back_to_text() -> None:
    assert json_body(httpx.Response(200, text="ok")) == "ok"
    assert json_body(httpx.Response(200, text="")) is None
    assert json_body(httpx.Response(400, json=[1])) == [1]


class _Recorder(BaseHTTPRequestHandler):
    paths: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """A local server recording request targets: as a proxy it sees absolute URLs."""
    paths: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Recorder,), {"paths": paths}))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", paths
    server.shutdown()
    server.server_close()


def _proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: str) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)


def test_remote_hosts_use_the_environment_proxy(
    recorder: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, paths = recorder
    _proxy_env(monkeypatch, url)
    with JsonHttpClient("http://crm.invalid/api", policy=FAST) as http:
        assert http.post("/objects", {}).status_code == 200
    assert paths == ["http://crm.invalid/api/objects"]


def test_loopback_hosts_bypass_the_environment_proxy(
    recorder: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, paths = recorder
    _proxy_env(monkeypatch, "http://127.0.0.1:9")  # nothing listens there: a proxied request fails
    with JsonHttpClient(url + "/hooks/tiers", policy=FAST) as http:
        assert http.post("", {}).status_code == 200
    assert paths == ["/hooks/tiers"]

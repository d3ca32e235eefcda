"""The async listing asks for the next page before parsing this one: proven against a hostile server.

The next request is started from a token guessed in the raw body (``_pages.guess_token``);
these pages put ``next_page_token`` first, in the middle, last behind a nested decoy of
the same name, spread over lines, or escaped, so a guess that is wrong (or missing) shows
as a wrong record or a lost request. Each listing runs through the sync and the async
path and must list exactly the same records.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import threading
import warnings
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks._pages import guess_token
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

from .conftest import set_connection, wait_until

JOB = "job-ahead"
PAGES = 4
SIZE = 3


def token_of(index: int) -> str:
    """Page ``index``'s token: a quote, a backslash, a slash and non-ASCII, so it is escaped in JSON."""
    return f'p"{index}\\/é-{index}'


def records_of(index: int) -> list[dict[str, Any]]:
    return [{"file_id": f"f-{index}-{i}", "custom_id": f"c-{index}-{i}"} for i in range(SIZE)]


def _layout_first(files: list[dict[str, Any]], token: str | None) -> bytes:
    return json.dumps({"next_page_token": token, "files": files}).encode()


def _layout_middle(files: list[dict[str, Any]], token: str | None) -> bytes:
    return json.dumps({"count": len(files), "next_page_token": token, "files": files, "x": 1}).encode()


def _layout_decoy(files: list[dict[str, Any]], token: str | None) -> bytes:
    # A record carries a member of the same name after the real one: the raw guess is wrong.
    decoy = [*files[:-1], {**files[-1], "meta": {"next_page_token": f"decoy-{files[0]['file_id']}"}}]
    return json.dumps({"next_page_token": token, "files": decoy}).encode()


def _layout_spaced(files: list[dict[str, Any]], token: str | None) -> bytes:
    return json.dumps({"files": files, "next_page_token": token}, indent=2, ensure_ascii=False).encode()


def _layout_escaped_key(files: list[dict[str, Any]], token: str | None) -> bytes:
    # "next_page_\u0074oken" is the same key to a JSON parser, and no guess finds it.
    body = json.dumps({"files": files, "next_page_token": token})
    return body.replace('"next_page_token"', '"next_page_\\u0074oken"').encode()


LAYOUTS: dict[str, Callable[[list[dict[str, Any]], str | None], bytes]] = {
    "token-first": _layout_first,
    "token-middle": _layout_middle,
    "nested-decoy-last": _layout_decoy,
    "spaced-unicode": _layout_spaced,
    "escaped-key": _layout_escaped_key,
}


class PageServer:
    """A loopback listing of ``PAGES`` pages of ``SIZE`` records, laid out by ``layout``.

    Records every ``paging_state`` asked for. A decoy token gets a page of WRONG records;
    ``fail`` maps a page index to the HTTP status it answers instead; ``hold`` makes a
    page wait until ``release`` is set.
    """

    def __init__(self, layout: Callable[[list[dict[str, Any]], str | None], bytes]) -> None:
        self.layout = layout
        self.asked: list[str | None] = []
        self.fail: dict[int, list[int]] = {}
        self.hold: int | None = None
        self.release = threading.Event()
        by_token = {token_of(i): i for i in range(1, PAGES)}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                token = query.get("paging_state", [None])[0]
                server.asked.append(token)
                index = 0 if token is None else by_token.get(token, -1)
                if index == server.hold:
                    server.release.wait(10)
                statuses = server.fail.get(index)
                if statuses:
                    status = statuses.pop(0)
                    self._send(
                        status, json.dumps({"error": "no", "error_info": {"id": f"http_{status}"}}).encode()
                    )
                elif index < 0:
                    self._send(200, server.layout([{"file_id": "WRONG", "custom_id": "WRONG"}], None))
                else:
                    nxt = token_of(index + 1) if index + 1 < PAGES else None
                    self._send(200, server.layout(records_of(index), nxt))

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(ConnectionError):  # a request cancelled by the client
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def real(self) -> list[str | None]:
        """The tokens asked for, without the decoys a wrong guess asked for."""
        return [t for t in self.asked if t is None or not t.startswith("decoy-")]

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(params=sorted(LAYOUTS))
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pages(layout: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[PageServer]:
    server = PageServer(LAYOUTS[layout])
    set_connection(monkeypatch, server.url, extra={"max_retries": 2, "retry_max_wait": 0.01, "timeout": 10})
    yield server
    server.close()


ALL = [r["custom_id"] for i in range(PAGES) for r in records_of(i)]
REAL_TOKENS = [None, *(token_of(i) for i in range(1, PAGES))]


def run_async(body: Callable[[MathpixHook], Any]) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``body(hook)`` inside ``async with hook`` on a fresh loop; also return its unhandled errors."""
    problems: list[dict[str, Any]] = []

    async def main() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: problems.append(ctx))
        hook = MathpixHook()
        async with hook:
            result = await body(hook)
        others = asyncio.all_tasks() - {asyncio.current_task()}
        assert not others, f"tasks left behind: {others}"
        return result

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = asyncio.run(main())
        gc.collect()
    problems.extend({"warning": str(w.message)} for w in caught)
    return result, problems


def test_every_layout_lists_the_same_records_both_ways(pages: PageServer, layout: str) -> None:
    with MathpixHook() as hook:
        assert [r["custom_id"] for r in hook.iter_job_files(JOB)] == ALL
    assert pages.asked == REAL_TOKENS
    pages.asked.clear()

    async def walk(hook: MathpixHook) -> list[str]:
        return [r["custom_id"] async for r in hook.aiter_job_files(JOB)]

    listed, problems = run_async(walk)
    assert listed == ALL and not problems
    assert pages.real() == REAL_TOKENS  # each page asked for once, in order
    wasted = len(pages.asked) - len(pages.real())
    # a wrong guess costs one request per page at most, and only the decoy (on every page) misleads it
    assert wasted == (PAGES if layout == "nested-decoy-last" else 0)


def test_the_next_page_is_on_the_wire_before_this_page_is_handed_out(pages: PageServer, layout: str) -> None:
    """Whatever the layout (guessed or not), page N+1 is asked for before page N's first record.

    The consumer blocks the loop while it waits, so only a request already written can
    reach the server meanwhile.
    """

    async def walk(hook: MathpixHook) -> list[int]:
        seen = []
        async for record in hook.aiter_job_files(JOB):
            index, position = (int(x) for x in record["file_id"].split("-")[1:])
            if position == 0 and index + 1 < PAGES:
                wait_until(lambda i=index: token_of(i + 1) in pages.asked, timeout=10, interval=0.005)
                seen.append(index)
        return seen

    seen, problems = run_async(walk)
    assert seen == list(range(PAGES - 1)) and not problems


def test_a_consumer_stopping_early_leaves_no_request_or_task_behind(pages: PageServer) -> None:
    async def walk(hook: MathpixHook) -> str:
        # aclosing: an async generator left by ``break`` alone is closed whenever it is collected
        async with contextlib.aclosing(hook.aiter_job_files(JOB)) as records:
            async for record in records:
                return str(record["custom_id"])
        raise AssertionError("no record")

    first, problems = run_async(walk)
    assert first == "c-0-0" and not problems
    assert len(pages.real()) <= 2  # the first page, and at most the one asked for ahead...
    assert len(pages.asked) - len(pages.real()) <= 1  # ...after a decoy guess, cancelled


def test_a_consumer_cancelled_while_a_page_is_in_flight_cancels_it(pages: PageServer) -> None:
    pages.hold = 1  # page 1 is asked for ahead, and never answers in time

    async def walk(hook: MathpixHook) -> list[str]:
        got: list[str] = []

        async def consume() -> None:
            async for record in hook.aiter_job_files(JOB):
                got.append(record["custom_id"])

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(consume(), timeout=0.5)
        return got

    got, problems = run_async(walk)
    assert got == ALL[:SIZE] and not problems
    assert pages.real() == REAL_TOKENS[:2]


@pytest.mark.parametrize("status", [404, 400])
def test_a_failing_next_page_fails_after_this_page_was_handed_out(pages: PageServer, status: int) -> None:
    pages.fail[2] = [status]

    async def walk(hook: MathpixHook) -> tuple[list[str], MathpixAPIError]:
        got: list[str] = []
        with pytest.raises(MathpixAPIError) as info:
            async for record in hook.aiter_job_files(JOB):
                got.append(record["custom_id"])
        return got, info.value

    (got, error), problems = run_async(walk)
    assert got == ALL[: 2 * SIZE] and not problems
    assert error.http_status == status and pages.real() == REAL_TOKENS[:3]


def test_a_page_asked_for_ahead_is_retried_by_the_one_policy(pages: PageServer) -> None:
    pages.fail[2] = [503, 503]  # max_retries 2: the third attempt succeeds

    async def walk(hook: MathpixHook) -> list[str]:
        return [r["custom_id"] async for r in hook.aiter_job_files(JOB)]

    listed, problems = run_async(walk)
    assert listed == ALL and not problems
    assert pages.real() == [*REAL_TOKENS[:3], token_of(2), token_of(2), *REAL_TOKENS[3:]]


def test_a_repeated_token_is_not_asked_for_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page handing out a token seen before fails the walk without asking for that page again."""
    server = PageServer(_layout_first)
    server.layout = lambda files, token: _layout_first(files, token_of(1) if token == token_of(3) else token)
    set_connection(monkeypatch, server.url)
    try:

        async def walk(hook: MathpixHook) -> MathpixAPIError:
            with pytest.raises(MathpixAPIError) as info:
                async for _ in hook.aiter_job_files(JOB):
                    pass
            return info.value

        error, problems = run_async(walk)
        assert error.code == "invalid_response" and "second time" in str(error) and not problems
        assert server.asked == REAL_TOKENS[:3]
    finally:
        server.close()


@pytest.mark.parametrize(
    ("body", "guess"),
    [
        (b'{"files":[],"next_page_token":"cDoxMDAw"}', "cDoxMDAw"),
        (b'{"next_page_token" :\n "a\\"b\\u00e9\\/", "files":[]}', 'a"bé/'),
        (b'{"files":[],"next_page_token":null}', None),
        (b'{"files":[],"next_page_token":""}', None),
        (b'{"files":[],"next_page_token":12}', None),
        (b'{"files":[]}', None),
        (b'{"next_page_token":"\xff"}', None),
        (b'{"next_page_token":"unterminated', None),
        (b'{"next_page_token" "no colon"}', None),
    ],
)
def test_guess_token(body: bytes, guess: str | None) -> None:
    assert guess_token(body) == guess

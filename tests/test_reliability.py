"""One bad input never stops an ingest, poisons an index or brings a 5xx (each test reproduces a defect first)."""

import json
import math
import os
import xml.etree.ElementTree as ET

import httpx
import pytest

from jiansuo.engine import Engine
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import Document
from jiansuo.store import IndexDirs


def ingest(tmp_path, lines: list[bytes], name: str = "in.jsonl"):
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = list(read_path(path))
    return ([i for i in items if not isinstance(i, IngestProblem)],
            {p.line: p.reason for p in items if isinstance(p, IngestProblem) and p.skipped})


def good(i: int) -> bytes:
    return json.dumps({"id": f"g{i}", "title": f"good {i}", "body": "text"}).encode()


@pytest.mark.parametrize("bad, reason", [
    (b'{"id": "s", "title": "\\ud800"}', "surrogate"),
    (b'{"id": "d", "x": ' + b"[" * 600 + b"]" * 600 + b"}", "nested"),
    (b'{"id": "d2", "x": ' + b"[" * 20 + b"]" * 20 + b"}", "nested"),
    (b'{"id": "r1", "reads": 1e400}', "reads"),
    (b'{"id": "r2", "reads": Infinity}', "Infinity"),
    (b'{"id": "r3", "reads": "Infinity"}', "reads"),
    (b'{"id": "r4", "reads": NaN}', "NaN"),
    (b'{"id": "r5", "reads": 1e30}', "reads"),
    (b'{"id": "n", "body": "a\\u0000b"}', "NUL"),
    (b'{"id": ["a", "b"]}', "id must be"),
    (b'{"id": {"a": 1}}', "id must be"),
    (b'{"id": true}', "id must be"),
    (b'{"id": "' + b"x" * 70_000 + b'"}', "id is 70000 characters"),
    (b'{"id": "c\\u0001"}', "control"),
    (b'{"title": "no id"}', "no document id"),
    (b'{"id": "t", "title": "' + b"x" * 3000 + b'"}', "title is 3,000"),
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"{broken", "invalid JSON"),
])
def test_a_bad_line_is_reported_and_the_rest_stored(tmp_path, bad, reason):
    documents, problems = ingest(tmp_path, [good(1), bad, good(2)])
    assert [d.id for d in documents] == ["g1", "g2"]
    assert list(problems) == [2] and reason in problems[2], problems


def test_raw_cr_inside_a_line_and_a_bom(tmp_path):
    record = b'{"id": "cr", "title": "a",\r "body": "b"}'
    documents, problems = ingest(tmp_path, [b"\xef\xbb\xbf" + good(1), record, b"{bad", good(2)])
    assert [d.id for d in documents] == ["g1", "cr", "g2"] and list(problems) == [3]


def test_duplicate_ids_in_one_file_are_reported(tmp_path):
    documents, problems = ingest(tmp_path, [good(1), good(2), good(1)])
    assert [d.id for d in documents] == ["g1", "g2"] and "already appeared on line 1" in problems[3]


def test_each_record_is_read_as_the_format_it_looks_like(tmp_path):
    beir = json.dumps({"_id": "b1", "title": "BEIR doc", "text": "abstract"}).encode()
    documents, problems = ingest(tmp_path, [good(1), beir])
    assert not problems and [d.id for d in documents] == ["g1", "b1"] and documents[1].summary == "abstract"


def test_the_cli_stores_2000_good_lines_among_1000_bad_ones(tmp_path):
    from jiansuo.cli import main

    bad = [b'{"id": "x", "reads": 1e400}', b"{oops", b'{"id": "y", "t": "\\ud800"}', b"\xc3\x28"]
    lines = [good(i) if i % 3 else bad[(i // 3) % len(bad)] for i in range(3000)]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines))
    assert main(["index", str(path), "--store", str(tmp_path / "site"), "--progress", "none"]) == 3
    engine = Engine(tmp_path / "site")
    assert engine.store.count() == 2000 and engine.stats()["indexed_documents"] == 2000


def test_a_stored_document_never_poisons_an_index_commit(tmp_path):
    engine = Engine(tmp_path / "site")
    engine.add([Document(id="ok", title="fine"), Document(id="huge", title="reads", reads=10**30, stars=10**30),
                Document(id="z" * 70_000, title="long id")])
    engine.refresh()
    engine.add([Document(id="later", title="fine too")])
    assert engine.refresh() == 1  # the next commit still works
    assert {h.doc_id for h in engine.search("fine reads").hits} >= {"ok", "huge", "later"}
    assert engine.search("", sort="popularity").hits[0].doc_id == "huge"


def test_an_unfinished_build_of_a_killed_process_is_swept(tmp_path):
    engine = Engine(tmp_path / "site")
    engine.add([Document(id="a", title="a")])
    engine.refresh()
    dirs = IndexDirs(tmp_path / "site" / "indexes", "bm25")
    stale = dirs.root / "v000099"
    stale.mkdir()
    (stale / ".builder").write_text("999999999")  # no such process
    running = dirs.root / "v000098"
    running.mkdir()
    (running / ".builder").write_text(str(os.getppid()))  # a live process: left alone
    engine.refresh()
    assert not stale.exists() and running.exists()


@pytest.fixture(scope="module")
def odd_server(tmp_path_factory):
    pytest.importorskip("fastapi", reason="the web extra is not installed")
    from conftest import LiveServer

    from jiansuo.web.app import create_app

    engine = Engine(tmp_path_factory.mktemp("odd") / "site")
    engine.add([Document(id="nan", title="metadata with NaN", metadata={"x": math.nan, "y": [math.inf]}),
                Document(id="ctl\x01id", title="control \x02 chars", categories=["cat\x03egory"], body="feed me")])
    engine.refresh()
    server = LiveServer(create_app(engine, "https://search.example.org"))
    yield server
    server.stop()


def test_nan_metadata_gives_json_null(odd_server):
    response = httpx.get(odd_server.url + "/api/doc/nan")
    assert response.status_code == 200 and response.json()["metadata"] == {"x": None, "y": [None]}


def test_click_with_a_nul_query_is_no_5xx(odd_server):
    response = httpx.get(odd_server.url + "/click", params={"id": "nan", "q": "\x00"})
    assert response.status_code == 303


def test_feeds_are_well_formed_and_link_to_the_configured_base_url(odd_server):
    response = httpx.get(odd_server.url + "/feed.atom", params={"q": "feed"}, headers={"Host": "evil.example"})
    feed = ET.fromstring(response.content)
    links = [link.get("href") for link in feed.iter("{http://www.w3.org/2005/Atom}link")]
    assert links and all(link.startswith("https://search.example.org/") for link in links)
    assert "evil.example" not in response.text


def raw_request(server, data: bytes, wait: float = 5.0) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(wait)
        out = b""
        try:
            sock.sendall(data)
            while chunk := sock.recv(65536):
                out += chunk
        except ConnectionResetError:
            return b"RESET"
        return out


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n", b"431"),
    (b"GET /?q=" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
    (b"NOT HTTP\r\n\r\n", b"400"),
])
def test_oversize_and_malformed_requests_are_answered_not_reset(odd_server, request_bytes, status):
    assert raw_request(odd_server, request_bytes).startswith(b"HTTP/1.1 " + status)


def test_a_half_sent_request_is_answered_408_and_closed(odd_server, monkeypatch):
    from jiansuo.web import protocol

    monkeypatch.setattr(protocol, "REQUEST_DEADLINE", 0.5)
    assert raw_request(odd_server, b"GET / HTTP/1.1\r\nHost: x\r\n").startswith(b"HTTP/1.1 408")


class BlockingEngine(Engine):
    """Searches for 'block' wait until the test lets them go: a slow request, without timing anything."""

    release = None

    def search(self, request="", hydrate=True, **options):
        text = request if isinstance(request, str) else request.query
        if text == "block":
            self.release.wait(timeout=20)
        return super().search(request, hydrate, **options)


@pytest.fixture
def blocking_server(tmp_path):
    import threading

    from conftest import LiveServer

    from jiansuo.web.app import create_app

    engine = BlockingEngine(tmp_path / "site")
    engine.release = threading.Event()
    engine.add([Document(id="a", title="fast answer")])
    engine.refresh()
    servers = []

    def start(**options):
        servers.append(LiveServer(create_app(engine, **options)))
        return servers[-1], engine.release

    yield start
    engine.release.set()
    for server in servers:
        server.stop()


def test_a_slow_request_does_not_stall_the_others(blocking_server):
    import threading

    server, release = blocking_server()
    slow = {}
    thread = threading.Thread(target=lambda: slow.update(r=httpx.get(server.url + "/api/search?q=block", timeout=30)))
    thread.start()
    try:
        for path in ("/api/search?q=fast", "/", "/doc/a", "/api/stats"):  # answered while 'block' is held
            assert httpx.get(server.url + path, timeout=5).status_code == 200
        assert thread.is_alive()  # the slow one is indeed still in flight
    finally:
        release.set()
        thread.join()
    assert slow["r"].status_code == 200


def test_a_request_over_its_time_budget_gets_503(blocking_server):
    server, release = blocking_server(request_budget_s=0.3)
    response = httpx.get(server.url + "/api/search?q=block", timeout=10)
    assert response.status_code == 503 and "longer than 0.3 s" in response.json()["error"]
    page = httpx.get(server.url + "/?q=block", timeout=10)
    assert page.status_code == 503 and "text/html" in page.headers["content-type"]
    release.set()
    assert httpx.get(server.url + "/api/search?q=fast", timeout=5).status_code == 200

"""Running a site: configuration, the keyed write API, sync from feeds and OAI-PMH, backup, restore, export."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

import pytest
from conftest import FIXTURES, shared_data
from test_cli import jiansuo

from jiansuo.config import ConfigError, load_config
from jiansuo.engine import Engine
from jiansuo.ingest import read_path
from jiansuo.model import Document
from jiansuo.store.api_keys import ApiKeys


# -- configuration -----------------------------------------------------------------------------------
def test_config_precedence_defaults_file_environment_flags(tmp_path):
    (tmp_path / "jiansuo.toml").write_text('[server]\nworkers = 3\nport = 8100\n[site]\ntitle = "Notes"\n')
    config = load_config(tmp_path, environ={"JIANSUO_SERVER_PORT": "9000"}, flags={"server.workers": 5,
                                                                                   "server.host": None})
    assert config["server.workers"] == 5 and config.sources["server.workers"] == "command line"
    assert config["server.port"] == 9000 and config.sources["server.port"] == "environment JIANSUO_SERVER_PORT"
    assert config["site.title"] == "Notes" and config.sources["site.title"].endswith("jiansuo.toml")
    assert config["server.host"] == "127.0.0.1" and config.sources["server.host"] == "default"
    shown = jiansuo("config", "show", "--store", tmp_path).stdout
    assert 'site.title' in shown and '"Notes"' in shown and "server.workers" in shown


@pytest.mark.parametrize("text, message", [
    ("[server]\nworkerz = 2\n", "server.workerz: unknown setting"),
    ("[server]\nworkers = \"two\"\n", "server.workers: expected a whole number"),
    ("[api]\nkeyed_reads = 1\n", "api.keyed_reads: expected true or false"),
    ("[server\n", "not valid TOML"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, message):
    (tmp_path / "jiansuo.toml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(tmp_path)
    result = jiansuo("config", "show", "--store", tmp_path, check=False)
    assert result.returncode == 2 and message in result.stderr and "jiansuo.toml" in result.stderr


# -- the write API -----------------------------------------------------------------------------------
@pytest.fixture
def site(tmp_path):
    from fastapi.testclient import TestClient

    from jiansuo.web.app import create_app

    engine = Engine(tmp_path / "store")
    engine.add(d for d in read_path(FIXTURES / "posts.jsonl") if isinstance(d, Document))
    engine.refresh()
    keys = ApiKeys(tmp_path / "store" / "store.sqlite")
    admin, search = keys.create("admin", "ci")[1], keys.create("search")[1]
    with TestClient(create_app(engine)) as client:
        yield client, engine, {"admin": {"Authorization": f"Bearer {admin}"},
                               "search": {"Authorization": f"Bearer {search}"}}, keys
    engine.close()


def test_writes_need_an_admin_key(site):
    client, _, headers, _ = site
    body = json.dumps({"id": "w1", "title": "Lion optimizer"})
    assert client.post("/api/documents", content=body).status_code == 401
    assert client.post("/api/documents", content=body, headers={"Authorization": "Bearer js_a_forged"}
                       ).status_code == 401
    assert client.post("/api/documents", content=body, headers=headers["search"]).status_code == 403
    assert client.delete("/api/documents/p1", headers=headers["search"]).status_code == 403
    assert client.post("/api/refresh").status_code == 401
    assert client.get("/api/search?q=x").status_code == 200  # reads stay open unless the config keys them


def test_a_batch_with_bad_lines_stores_the_rest_and_says_when_searchable(site):
    client, engine, headers, _ = site
    lines = [json.dumps({"id": "w1", "title": "狮子优化器 Lion", "body": "符号函数 sign 动量"}), "{not json",
             json.dumps({"title": "no id"}), json.dumps({"id": "w2", "title": "Tiger 优化器"})]
    answer = client.post("/api/documents", content="\n".join(lines), headers=headers["admin"]).json()
    assert answer["stored"] == 2 and answer["searchable"] is False
    assert answer["errors"][0].startswith("line 2: invalid JSON") and answer["errors"][1].startswith("line 3: no")
    assert engine.get("w1").title == "狮子优化器 Lion"  # durable in the store already …
    assert client.get("/api/search?q=狮子优化器&mode=bm25").json()["total"] == 0  # … not yet searchable
    refreshed = client.post("/api/refresh", headers=headers["admin"]).json()
    assert refreshed["searchable"] and refreshed["indexed_seq"] == engine.store.seq
    assert client.get("/api/search?q=狮子优化器&mode=bm25").json()["hits"][0]["id"] == "w1"
    array = json.dumps([{"id": "w3", "title": "Sophia 二阶优化器"}])
    answer = client.put("/api/documents?refresh=true", content=array, headers=headers["admin"]).json()
    assert answer["stored"] == 1 and answer["searchable"] is True
    assert client.get("/api/search?q=Sophia&mode=bm25").json()["hits"][0]["id"] == "w3"
    assert client.post("/api/documents", content="{nope", headers=headers["admin"]).status_code == 400


def test_delete_and_revoke(site):
    client, engine, headers, keys = site
    assert client.delete("/api/documents/p1?refresh=true", headers=headers["admin"]).json()["deleted"] == 1
    assert engine.get("p1") is None and "p1" not in [h["id"] for h in client.get("/api/search?q=扩散").json()["hits"]]
    assert client.delete("/api/documents/p1", headers=headers["admin"]).status_code == 404
    admin_id = next(k.id for k in keys.list() if k.role == "admin")
    assert keys.revoke(admin_id)
    assert client.post("/api/refresh", headers=headers["admin"]).status_code == 401


def test_keyed_reads_when_the_configuration_says_so(tmp_path):
    from fastapi.testclient import TestClient

    from jiansuo.web.app import create_app

    engine = Engine(tmp_path / "store")
    engine.add(d for d in read_path(FIXTURES / "posts.jsonl") if isinstance(d, Document))
    engine.refresh()
    (tmp_path / "store" / "jiansuo.toml").write_text("[api]\nkeyed_reads = true\n")
    search = ApiKeys(tmp_path / "store" / "store.sqlite").create("search")[1]
    with TestClient(create_app(engine)) as client:
        assert client.get("/api/search?q=扩散").status_code == 401
        assert client.get("/").status_code == 401
        assert client.get("/static/style.css").status_code == 200
        assert client.get("/api/search?q=扩散", headers={"Authorization": f"Bearer {search}"}).json()["total"] > 0


def _running(pid: int) -> bool:
    """True while process `pid` runs (a zombie waiting to be reaped has ended)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.processes
def test_a_write_survives_kill_9_right_after_its_answer(tmp_path):
    """A write answered just before kill -9 is kept, and the killed server's pool processes end with it."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    store = tmp_path / "store"
    jiansuo("index", FIXTURES / "posts.jsonl", "--store", store, "--progress", "none", check=False)
    secret = jiansuo("keys", "create", "--role", "admin", "--store", store).stdout.strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "jiansuo.cli", "serve", "--store", str(store), "--port",
                               str(port)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                pool_process = httpx.get(f"http://127.0.0.1:{port}/api/stats", timeout=1).json()["searched_by"]
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert pool_process != server.pid  # the search ran in the worker's pool (web/job_pool.py)
        batch = "\n".join(json.dumps({"id": f"k{i}", "title": f"kill test {i}"}) for i in range(500))
        answer = httpx.post(f"http://127.0.0.1:{port}/api/documents", content=batch, timeout=60,
                            headers={"Authorization": f"Bearer {secret}"})
        os.kill(server.pid, signal.SIGKILL)  # the moment the answer is read
        assert answer.status_code == 200 and answer.json()["stored"] == 500
    finally:
        server.kill()
        server.wait()
    deadline = time.time() + 20
    while _running(pool_process) and time.time() < deadline:
        time.sleep(0.1)
    assert not _running(pool_process), "the pool process outlived its killed server"
    reopened = Engine(store)
    assert all(reopened.get(f"k{i}") is not None for i in range(500))
    reopened.refresh()
    assert reopened.search("kill test 499", mode="bm25", hydrate=False).hits[0].doc_id == "k499"


# -- sync ----------------------------------------------------------------------------------------------
class Loopback:
    """A real HTTP server on 127.0.0.1 answering from `pages(path, query) -> (status, bytes)`."""

    def __init__(self, pages):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parsed = urlparse(self.path)
                outer.requests.append(self.path)
                status, body = pages(parsed.path, {k: v[0] for k, v in parse_qs(parsed.query).items()})
                self.send_response(status)
                self.send_header("Content-Type", "application/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def rss_of(documents: list[Document]) -> bytes:
    items = "".join(
        f"<item><title>{escape(d.title)}</title><link>{escape(d.url or 'https://kexue.fm/' + d.id)}</link>"
        f"<guid>{escape(d.id)}</guid><pubDate>{format_datetime(datetime(*d.date.timetuple()[:3], tzinfo=UTC))}"
        "</pubDate>"
        f"<content:encoded>{escape('<p>' + d.body[:3000].replace(chr(10) + chr(10), '</p><p>') + '</p>')}"
        f"</content:encoded>{''.join(f'<category>{escape(c)}</category>' for c in d.categories)}</item>"
        for d in documents)
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>科学空间</title>'
            f'{items}</channel></rss>').encode()


def test_sync_from_a_loopback_rss_feed_twice(tmp_path):
    posts = [d for d in read_path(shared_data("kexue") / "kexue.jsonl") if isinstance(d, Document) and d.date][:40]
    feed = Loopback(lambda path, query: (200, rss_of(posts)))
    store = tmp_path / "store"
    store.mkdir()
    (store / "jiansuo.toml").write_text(f'[[sync]]\nkind = "rss"\nurl = "{feed.url}/feed.xml"\n')
    try:
        first = jiansuo("sync", "--store", store).stderr
        second = jiansuo("sync", "--store", store).stderr
    finally:
        feed.close()
    assert "40 seen, 40 new or changed" in first and "40 seen, 0 new or changed" in second
    engine = Engine(store)
    post = posts[7]
    assert engine.get(post.id).title == post.title and engine.get(post.id).date == post.date
    assert engine.search(post.title, mode="bm25", hydrate=False).hits[0].doc_id == post.id


def arxiv_records() -> list[dict]:
    lines = (shared_data("arxiv") / "kaggle_snapshot_first2000.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:130]]


def oai_pages(records: list[dict], size: int, stall_on: int | None = None, stalled=None, release=None):
    """ListRecords in pages of `size` with resumption tokens. The first request for page `stall_on` sets `stalled`
    and waits for `release` (the test kills the client meanwhile), then answers 503."""
    def record_xml(r: dict) -> str:
        authors = "".join(f"<author><keyname>{escape(p[0])}</keyname><forenames>{escape(p[1])}</forenames></author>"
                          for p in r.get("authors_parsed") or [])
        created = r["versions"][0]["created"]
        stamp = r.get("update_date") or "2007-04-02"
        return (f"<record><header><identifier>oai:arXiv.org:{r['id']}</identifier><datestamp>{stamp}</datestamp>"
                f"</header><metadata><arXiv xmlns=\"http://arxiv.org/OAI/arXiv/\"><id>{r['id']}</id>"
                f"<created>{escape(created)}</created><authors>{authors}</authors><title>{escape(r['title'])}</title>"
                f"<categories>{escape(r['categories'])}</categories><abstract>{escape(r['abstract'])}</abstract>"
                f"</arXiv></metadata></record>")

    def pages(path, query):
        page = int(query.get("resumptionToken", "0"))
        if page == stall_on and not stalled.is_set():
            stalled.set()
            release.wait(30)
            return 503, b"gone"
        chunk = records[page * size : (page + 1) * size]
        more = (page + 1) * size < len(records)
        token = f"<resumptionToken>{page + 1}</resumptionToken>" if more else "<resumptionToken/>"
        return 200, ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                     f"<ListRecords>{''.join(record_xml(r) for r in chunk)}{token}</ListRecords></OAI-PMH>").encode()

    return pages


@pytest.mark.processes
def test_sync_from_a_loopback_oai_pmh_listing_resumes_after_kill_9(tmp_path):
    import signal
    import subprocess
    import sys

    records = arxiv_records()
    stalled, release = threading.Event(), threading.Event()
    server = Loopback(oai_pages(records, 50, stall_on=1, stalled=stalled, release=release))
    store = tmp_path / "store"
    store.mkdir()
    (store / "jiansuo.toml").write_text(f'[[sync]]\nkind = "oai-pmh"\nname = "arxiv"\nurl = "{server.url}/oai"\n'
                                        'metadata_prefix = "arXiv"\nset = "physics"\n')
    try:
        running = subprocess.Popen([sys.executable, "-m", "jiansuo.cli", "sync", "--store", str(store)],
                                   stderr=subprocess.DEVNULL)
        assert stalled.wait(120)  # page 1 is stored; the client waits for page 2 …
        running.send_signal(signal.SIGKILL)  # … and is killed there
        running.wait()
        release.set()
        assert Engine(store).store.count() == 50
        resumed = jiansuo("sync", "--store", store).stderr
        again = jiansuo("sync", "--store", store).stderr
    finally:
        release.set()
        server.close()
    assert "resuming the listing at token '1'" in resumed and "80 seen, 80 new or changed" in resumed
    assert "0 new or changed" in again
    assert "metadataPrefix=arXiv" in server.requests[0] and "set=physics" in server.requests[0]
    starts = [r for r in server.requests if "metadataPrefix" in r]
    assert len(starts) == 2 and "from=" not in starts[0] and "from=" in starts[1]  # later runs: only what changed
    engine = Engine(store)
    assert engine.store.count() == 130
    paper = engine.get(records[60]["id"])
    assert paper.title == " ".join(records[60]["title"].split()) and paper.url.endswith(records[60]["id"])
    assert paper.venue == "arXiv"  # no journal-ref in the listing: a preprint, as a paper list keyed by arXiv ids
    assert engine.search(paper.title, mode="bm25", hydrate=False).hits[0].doc_id == paper.id


def test_a_failing_listing_page_is_an_error_and_keeps_what_was_stored(tmp_path):
    records = arxiv_records()[:100]
    stalled, release = threading.Event(), threading.Event()
    release.set()  # the stalled page answers 503 at once
    server = Loopback(oai_pages(records, 50, stall_on=1, stalled=stalled, release=release))
    store = tmp_path / "store"
    store.mkdir()
    (store / "jiansuo.toml").write_text(f'[[sync]]\nkind = "oai-pmh"\nurl = "{server.url}/oai"\n')
    try:
        broken = jiansuo("sync", "--store", store, check=False)
    finally:
        server.close()
    assert broken.returncode == 1 and "503" in broken.stderr
    assert Engine(store).store.count() == 50


# -- backup, restore, export ---------------------------------------------------------------------------
def queries_of(documents: list[Document], count: int) -> list[str]:
    return [d.title[: 3 + i % 8] for i, d in enumerate(documents)][:count]


@pytest.mark.slow
def test_backup_while_serving_then_restore_gives_identical_results(tmp_path):
    import concurrent.futures
    import time

    import httpx
    from conftest import LiveServer

    from jiansuo.web.app import create_app

    posts = [d for d in read_path(shared_data("kexue") / "kexue.jsonl") if isinstance(d, Document)]
    engine = Engine(tmp_path / "store")
    engine.add(posts)
    engine.refresh()
    # the budget is not under test here: 20 clients on 2 shared cores may wait seconds for their turn
    server = LiveServer(create_app(engine, request_budget_s=600))
    queries = queries_of(posts, 300)
    errors, served, done = [], [], threading.Event()

    def client(k: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not done.is_set():
                status = http.get("/api/search", params={"q": queries[(k * 7 + len(served)) % 300]}).status_code
                served.append(status)
                if status != 200:
                    errors.append(status)

    try:
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            futures = [pool.submit(client, k) for k in range(20)]
            while len(served) < 40:  # every client is searching before the backup starts
                time.sleep(0.01)
            jiansuo("backup", tmp_path / "backup", "--store", tmp_path / "store")
            during = len(served)
            done.set()
            for future in futures:
                future.result()
    finally:
        server.stop()
    assert during >= 40 and errors == []
    jiansuo("restore", tmp_path / "backup", "--store", tmp_path / "restored")
    restored = Engine(tmp_path / "restored")
    for query in queries:
        assert [h.doc_id for h in restored.search(query, hydrate=False).hits] == \
               [h.doc_id for h in engine.search(query, hydrate=False).hits], query


def test_export_round_trips_through_index(tmp_path):
    store = tmp_path / "store"
    jiansuo("index", FIXTURES / "posts.jsonl", FIXTURES / "blog", "--store", store, "--progress", "none",
            check=False)
    exported = jiansuo("export", "--format", "jsonl", "--store", store).stdout
    (tmp_path / "export.jsonl").write_text(exported, encoding="utf-8")
    jiansuo("index", tmp_path / "export.jsonl", "--store", tmp_path / "copy", "--progress", "none")
    original, copy = Engine(store), Engine(tmp_path / "copy")
    assert copy.store.count() == original.store.count()
    for document in original.store.documents():
        assert copy.get(document.id).to_dict() == document.to_dict()
    for query in ("扩散模型", "CUR", "cosine", "优化器 -Lion", "title:Lion OR title:Tiger"):
        assert [h.doc_id for h in copy.search(query, hydrate=False).hits] == \
               [h.doc_id for h in original.search(query, hydrate=False).hits], query

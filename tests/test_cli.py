"""Every command through the real entry point."""

import json
import os
import subprocess
import sys

import pytest


def jiansuo(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "jiansuo.cli", *map(str, args)],
                            capture_output=True, text=True, timeout=120)
    if check and result.returncode not in (0, 3):
        raise AssertionError(result.stderr)
    return result


@pytest.mark.parametrize("command", ["index", "search", "stats", "eval", "serve", "train", "cur", "hubness",
                                     "config", "keys", "sync", "backup", "restore", "export"])
def test_help_has_an_example(command):
    assert "Example:" in jiansuo(command, "--help").stdout


def test_index_search_stats(tmp_path, fixtures):
    store = tmp_path / "store"
    indexed = jiansuo("index", fixtures / "posts.jsonl", fixtures / "blog", "--store", store, "--progress", "none")
    assert indexed.returncode == 3  # partial: two bad lines and a broken front matter
    assert "posts.jsonl:4: invalid JSON" in indexed.stderr
    assert "broken-front-matter.md" in indexed.stderr

    listing = jiansuo("search", "条件控制", "--store", store).stdout
    assert "生成扩散模型漫谈" in listing and "苏剑林 | 2022-08-30 | 52338 reads" in listing
    assert "[条件]" in listing

    data = json.loads(jiansuo("search", "CUR", "--json", "--category", "cs.IR", "--store", store).stdout)
    assert data["total"] == 1 and data["hits"][0]["id"] == "p2"

    stats = json.loads(jiansuo("stats", "--json", "--store", store).stdout)
    assert stats["documents"] == 7 and stats["indexed_seq"] == stats["store_seq"]


def test_index_clean_input_exits_zero_and_delete_works(tmp_path, fixtures):
    store = tmp_path / "store"
    assert jiansuo("index", fixtures / "beir_corpus.jsonl", "--store", store).returncode == 0  # with progress bars
    jiansuo("index", "--delete", "4983", "--store", store, "--progress", "none")
    stats = json.loads(jiansuo("stats", "--json", "--store", store).stdout)
    assert stats["documents"] == 2 and stats["indexed_documents"] == 2


def test_bad_field_mapping_is_a_usage_error(tmp_path, fixtures):
    result = jiansuo("index", fixtures / "posts.jsonl", "--field", "nonsense", "--store", tmp_path, check=False)
    assert result.returncode == 2 and "--field expects" in result.stderr


def test_search_without_index_says_what_to_do(tmp_path):
    result = jiansuo("search", "x", "--store", tmp_path / "none", check=False)
    assert result.returncode == 1 and "jiansuo index" in result.stderr


def test_eval_on_a_tiny_beir_folder(tmp_path):
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    docs = [("d1", "diffusion models guidance"), ("d2", "matrix factorization anchors"), ("d3", "cosine loss")]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n"
                                                 for i, t in docs))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "matrix anchors"}) + "\n"
                                          + json.dumps({"_id": "q2", "text": "cosine"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td1\t1\n")
    report = json.loads(jiansuo("eval", "--dataset", folder, "--json", "--store", tmp_path / "s").stdout)
    # q1 finds d2 first (1.0); q2 finds only d3, its relevant d1 never appears (0.0)
    assert report["ndcg@10"] == pytest.approx(0.5) and report["mrr@10"] == pytest.approx(0.5)
    bad = jiansuo("eval", "--dataset", folder, "--mode", "bm25,exact", "--store", tmp_path / "s", check=False)
    assert bad.returncode == 2 and "unknown mode exact" in bad.stderr


@pytest.mark.models
def test_eval_compares_modes_in_one_table(tmp_path):
    pytest.importorskip("onnxruntime", reason="the dense extra is not installed")
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    docs = [("d1", "diffusion models guidance"), ("d2", "matrix factorization anchors"), ("d3", "cosine loss")]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n"
                                                 for i, t in docs))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "低秩矩阵分解"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\n")
    args = ("eval", "--dataset", folder, "--store", tmp_path / "s", "--progress", "none")
    reports = json.loads(jiansuo(*args, "--mode", "bm25,dense", "--json").stdout)
    # a Chinese query shares no word with English documents: BM25 finds nothing, meaning finds d2
    assert [r["mode"] for r in reports] == ["bm25", "dense"]
    assert reports[0]["ndcg@10"] == 0 and reports[1]["ndcg@10"] > 0.5 and reports[1]["encoder"] == "e5-onnx"
    table = jiansuo(*args, "--mode", "bm25,hybrid").stdout
    assert "| bm25 |" in table and "| hybrid (e5-onnx) |" in table


def test_serve_answers_over_http_with_two_workers(tmp_path, fixtures):
    import socket
    import time

    import httpx

    store = tmp_path / "store"
    jiansuo("index", fixtures / "posts.jsonl", "--store", store, "--progress", "none")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "jiansuo.cli", "serve", "--store", str(store), "--port",
                               str(port), "--workers", "2"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", params={"q": "CUR"}, timeout=5)
                break
            except httpx.HTTPError:
                assert time.time() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200 and "利用CUR分解" in response.text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:  # keep-alive, both workers answer
            assert all(client.get("/api/search", params={"q": "CoSENT"}).status_code == 200 for _ in range(10))
        workers, searched_by = set(), set()
        for _ in range(16):  # each worker listens on its own socket: the kernel spreads new connections
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                stats = client.get("/api/stats").json()
                workers.add(stats["worker"])
                searched_by.add(stats["searched_by"])
        assert len(workers) == 2  # all 16 on one worker would happen once in 2**15 runs
        assert not searched_by & workers  # the work ran in the workers' pool processes (web/job_pool.py)
    finally:
        server.terminate()
        server.wait(timeout=20)
    deadline = time.time() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in searched_by) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in searched_by), "pool processes outlived the server"


@pytest.mark.parametrize("command", [["search", "x"], ["stats"], ["hubness"]])
def test_read_only_commands_refuse_a_missing_store(tmp_path, command, capsys):
    from jiansuo.cli import main

    missing = tmp_path / "typo"
    assert main([*command, "--store", str(missing)]) != 0
    assert "no store at" in capsys.readouterr().err and not missing.exists()


def test_the_listening_socket_is_tcp_so_accepted_connections_get_nodelay():
    # asyncio sets TCP_NODELAY only on connections whose listening socket says IPPROTO_TCP; without it every
    # keep-alive response after the first waits ~40 ms for a delayed ACK (bench/http_latency.py measures it)
    import socket

    from jiansuo.web.serve import listening_socket

    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_index_reads_a_built_html_blog_and_a_bibtex_list(tmp_path, fixtures):
    store = tmp_path / "store"
    indexed = jiansuo("index", fixtures / "blog_html", fixtures / "papers.bib", "--store", store, "--progress", "none")
    assert indexed.returncode == 3  # a listing page, an unclosed entry and a repeated key are not stored
    assert "tags/math/index.html:1: a listing page (2 posts)" in indexed.stderr
    assert "papers.bib:28: @article entry: the entry never closes" in indexed.stderr
    assert "8 documents in" in indexed.stderr
    listing = jiansuo("search", "交互式相似度", "--store", store).stdout
    assert "CoSENT（三）：作为交互式相似度的损失函数" in listing and "苏剑林 | 2022-11-09" in listing
    data = json.loads(jiansuo("search", "Siamese", "--json", "--store", store).stdout)
    assert [h["id"] for h in data["hits"]] == ["reimers2019sbert"]


def _demo(tmp_path, corpus, **settings):
    """scripts/demo.sh on `corpus` (set-up skipped) on a free port: (the process, the base URL)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "SKIP_SETUP": "1", "STORE": str(tmp_path / "store"), "PORT": str(port), **settings}
    demo = subprocess.Popen(["bash", "scripts/demo.sh", str(corpus)], env=environment, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return demo, f"http://127.0.0.1:{port}"


def _get(demo, url: str, until=lambda text: True, tries: int = 240) -> str:
    """The body at `url` once `until(body)` holds, retrying every 0.5 s while the demo runs; "" if it never does."""
    import time
    import urllib.request

    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode("utf-8")
            if until(text):
                return text
        except OSError:
            pass
        if demo.poll() is not None:
            return ""
        time.sleep(0.5)
    return ""


def _stop(demo) -> str:
    import signal

    os.killpg(demo.pid, signal.SIGTERM)
    return demo.communicate(timeout=30)[0]


@pytest.mark.processes
def test_demo_with_a_bad_line_serves_the_rest(tmp_path):
    """scripts/demo.sh on a user's file: a malformed record is named, and the site still comes up with the rest."""
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text('{"id": "a", "title": "Whitening sentence vectors"}\n{"id": \n'
                      '{"id": "b", "title": "Hubness in nearest neighbours"}\n', encoding="utf-8")
    demo, base = _demo(tmp_path, corpus, BM25_ONLY="1")
    try:
        assert "Hubness in nearest neighbours" in _get(demo, f"{base}/?q=hubness")
    finally:
        output = _stop(demo)
    assert "papers.jsonl:2: invalid JSON" in output and "serving the rest" in output


@pytest.mark.processes
@pytest.mark.models
def test_demo_serves_keyword_search_first_and_turns_hybrid_when_its_dense_index_is_built(tmp_path):
    pytest.importorskip("onnxruntime", reason="the dense extra is not installed")
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text('{"id": "a", "title": "Whitening sentence vectors"}\n'
                      '{"id": "b", "title": "Hubness in nearest neighbours"}\n', encoding="utf-8")
    demo, base = _demo(tmp_path, corpus)
    try:
        first = json.loads(_get(demo, f"{base}/api/stats") or "{}")
        assert first.get("documents") == 2  # served before any passage is encoded
        built = _get(demo, f"{base}/api/stats", tries=600, until=lambda text: (  # a cold model cache: ~30 s here
            json.loads(text).get("dense") or {}).get("documents") == 2)
        assert built, "the served store never got its dense index"
        hits = json.loads(_get(demo, f"{base}/api/search?q=hubness"))["hits"]
        assert [h["id"] for h in hits] == ["b", "a"]  # the dense list brings the other paper in
    finally:
        output = _stop(demo)
    assert output.index("Serving http") < output.index("encoding (e5-onnx)") < output.index("serves hybrid search")
    assert "invalid" not in output


@pytest.mark.models
def test_index_closing_line_counts_the_dense_work_too(tmp_path, fixtures):
    pytest.importorskip("onnxruntime", reason="the dense extra is not installed")
    args = ("index", fixtures / "posts.jsonl", "--store", tmp_path / "s", "--progress", "none", "--dense")
    first = jiansuo(*args).stderr
    assert "keyword index updated with 5 changes, dense index brought up to date over 5 documents" in first
    again = jiansuo(*args).stderr
    assert "keyword index updated with 0 changes;" in again and "dense index" not in again

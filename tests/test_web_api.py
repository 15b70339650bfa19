"""The JSON API, feeds and click log over real HTTP on loopback."""

import xml.etree.ElementTree as ET

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def client(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        yield http


def test_a_missing_page_is_a_page_for_browsers_and_json_for_the_api(client):
    page = client.get("/no/such/page", headers={"Accept": "text/html", "Accept-Language": "zh-CN"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "没有这个页面" in page.text and 'role="search"' in page.text and "/no/such/page" in page.text
    assert "No such page" in client.get("/no/such/page", headers={"Accept": "text/html"}).text
    api = client.get("/api/nothing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    assert client.get("/no/such/page").headers["content-type"] == "application/json"  # no browser: as before


def test_search_address_that_site_forms_send_to_is_the_result_page(client):
    answer = client.get("/search", params={"q": "条件控制"}, follow_redirects=True)
    assert answer.status_code == 200 and str(answer.url).endswith("/?q=%E6%9D%A1%E4%BB%B6%E6%8E%A7%E5%88%B6")
    assert "p1" in answer.text


def test_api_search_matches_the_engine(client):
    data = client.get("/api/search", params={"q": "条件控制"}).json()
    assert data["hits"][0]["id"] == "p1" and data["total"] >= 1
    assert any(part["match"] for part in data["hits"][0]["excerpt"])


def test_api_filters_sort_and_paging(client):
    data = client.get("/api/search", params={"from": "2022-10-01", "to": "2022-11-05"}).json()
    assert {h["id"] for h in data["hits"]} == {"p2", "p4"}
    data = client.get("/api/search", params={"category": "cs.LG+cs.IR-cs.AI"}).json()
    assert {h["id"] for h in data["hits"]} == {"p2", "p4", "p5"}
    first = client.get("/api/search", params={"sort": "date", "limit": 2}).json()
    second = client.get("/api/search", params={"sort": "date", "limit": 2, "page": 2}).json()
    assert first["total"] == second["total"]
    assert not {h["id"] for h in first["hits"]} & {h["id"] for h in second["hits"]}


@pytest.mark.parametrize("params", [{"from": "2022-13-01"}, {"sort": "random"}, {"page": "0"}, {"limit": "1000"},
                                    {"page": "x"}, {"from": "2023-01-01", "to": "2022-01-01"}, {"q": "x" * 2000}])
def test_bad_parameters_get_a_400_with_a_message(client, params):
    response = client.get("/api/search", params=params)
    assert response.status_code == 400 and response.json()["error"]
    page = client.get("/", params=params)
    assert page.status_code == 400 and response.json()["error"] in page.text.replace("&#39;", "'")


def test_document_api_and_404(client):
    data = client.get("/api/doc/p2").json()
    assert data["title"].startswith("利用CUR分解") and data["related"]
    assert client.get("/api/doc/nope").status_code == 404
    assert client.get("/doc/nope").status_code == 404


def test_stats_and_openapi(client):
    assert client.get("/api/stats").json()["documents"] == 10
    schema = client.get("/openapi.json").json()
    names = {p["name"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "from", "to", "category", "venue", "tag", "sort", "page", "limit"} <= names


def test_atom_feed_of_a_search_and_per_category(client):
    response = client.get("/feed.atom", params={"q": "扩散"})
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    titles = [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")]
    assert titles and titles[0].startswith("生成扩散模型漫谈")
    response = client.get("/feed/category/cs.IR.atom", follow_redirects=True)
    ids = {e.findtext(f"{ATOM}id").rsplit("/", 1)[1] for e in ET.fromstring(response.content).findall(f"{ATOM}entry")}
    assert ids == {"p2", "p5"}


def test_hostile_document_is_inert_in_api_and_feed(client):
    data = client.get("/api/search", params={"q": "hostile"}).json()
    hit = next(h for h in data["hits"] if h["id"] == "xss1")
    assert hit["url"] is None  # javascript: never leaves the server as a link
    feed = ET.fromstring(client.get("/feed.atom", params={"q": "hostile"}).content)
    entry = feed.find(f"{ATOM}entry")
    assert "<script>" in entry.findtext(f"{ATOM}title")  # text, escaped by the serializer, not markup
    assert all(not link.get("href", "").startswith("javascript") for link in feed.iter(f"{ATOM}link"))


def test_click_is_logged_and_redirects(client, web_engine):
    client.get("/")  # a reader's first page gives it its anonymous id
    before = len(web_engine.store.clicks())
    response = client.get("/click", params={"q": "CUR", "id": "p2", "rank": "1"})
    assert response.status_code == 303 and response.headers["location"].startswith("/doc/p2")
    clicks = web_engine.store.clicks()
    assert len(clicks) == before + 1 and clicks[-1]["query"] == "CUR" and clicks[-1]["doc_id"] == "p2"


def test_language_from_header_and_switch(client):
    assert "搜索" in client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert ">Search<" in client.get("/", headers={"Accept-Language": "en-US"}).text
    assert ">Search<" in client.get("/?lang=en", headers={"Accept-Language": "zh-CN"}).text


_text = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ['"', "-", "AND", "title:", "\\", "%", "$$", "$\\frac{", "2022-02-30", "-1", "99999999999999999999", "\x00"])


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=_text, frm=_text, to=_text, category=_text, sort=_text, page=_text, path=st.sampled_from(
    ["/", "/api/search", "/feed.atom"]))
def test_random_bad_input_never_gets_a_5xx(client, q, frm, to, category, sort, page, path):
    params = {"q": q, "from": frm, "to": to, "category": category, "sort": sort, "page": page}
    response = client.get(path, params={k: v for k, v in params.items() if v})
    assert response.status_code < 500, response.text[:300]


def test_back_to_results_keeps_query_filters_sort_and_page(client):
    search = {"q": "模型", "from": "2020-01-01", "sort": "date", "limit": "1", "page": "2"}
    page = client.get("/", params=search).text
    link = page.split('<a class="title" href="')[1].split('"')[0].replace("&amp;", "&")
    document = client.get(link, follow_redirects=True)
    back = document.text.split('<a class="back" href="')[1].split('"')[0].replace("&amp;", "&")
    assert back.startswith("/?") and all(f"{k}={v}" in back for k, v in
                                         [("from", "2020-01-01"), ("sort", "date"), ("page", "2")])
    assert "q=%E6%A8%A1%E5%9E%8B" in back


@pytest.mark.parametrize("back", ["//evil.example", "/\\evil.example", "https://evil.example", "/%09/x",
                                  "javascript:alert(1)", "/doc/p1"])
def test_back_link_never_leaves_the_result_page(client, back):
    page = client.get("/doc/p1", params={"back": back}).text
    assert 'class="back"' not in page


def test_byline_without_author_or_date_has_no_stray_separator(tmp_path):
    from starlette.testclient import TestClient

    from jiansuo.engine import Engine
    from jiansuo.model import Document
    from jiansuo.web.app import create_app

    engine = Engine(tmp_path / "store")
    engine.add([Document(id="u1", title="Only a link", url="https://example.org/u1", body="text"),
                Document(id="u2", title="Nothing else", body="text")])
    engine.refresh()
    client = TestClient(create_app(engine))
    byline = client.get("/doc/u1").text.split('class="byline">')[1].split("</p>")[0]
    assert byline.startswith("<a class=\"original\"")
    assert 'class="byline"' not in client.get("/doc/u2").text


def test_no_results_advice_fits_the_query(client):
    plain = client.get("/", params={"q": "zzzqqqxxx", "lang": "en"}).text
    assert "No documents match" in plain and "without filters" not in plain and "Quoted phrases" not in plain
    filtered = client.get("/", params={"q": '"zzzqqqxxx"', "from": "2020-01-01", "lang": "en"}).text
    assert "without filters" in filtered and "Quoted phrases" in filtered


def test_favicon_and_no_cdn_docs(client):
    assert client.get("/favicon.ico", follow_redirects=True).headers["content-type"].startswith("image/svg")
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_error_messages_follow_the_page_language(client):
    chinese = client.get("/", params={"q": "x", "from": "2022-13-01"}, headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 400 and "须为形如 2022-11-09 的日期" in chinese.text
    english = client.get("/", params={"q": "x", "from": "2022-13-01", "lang": "en"})
    assert english.status_code == 400 and "must be a date like 2022-11-09" in english.text
    api = client.get("/api/search", params={"sort": "nope"}, headers={"Accept-Language": "zh-CN"}).json()
    assert api["error"].startswith("sort must be one of")  # the API speaks English


def test_a_mode_the_store_cannot_answer_is_a_400_with_the_reason(client):
    response = client.get("/api/search", params={"q": "CUR", "mode": "dense"})
    assert response.status_code == 400 and "dense index" in response.json()["error"]
    assert client.get("/", params={"q": "CUR", "mode": "hybrid"}).status_code == 400


def test_replayed_clicks_count_once_per_reader_and_day(tmp_path):
    from starlette.testclient import TestClient

    from jiansuo.engine import Engine
    from jiansuo.model import Document
    from jiansuo.web.app import create_app

    engine = Engine(tmp_path / "store")
    engine.add([Document(id="a", title="alpha", reads=10), Document(id="b", title="beta", reads=9),
                Document(id="c", title="gamma", reads=8)])
    engine.refresh()
    reader = TestClient(create_app(engine))
    reader.get("/")
    for _ in range(1000):  # one reader replaying a click on c
        reader.get("/click", params={"id": "c", "q": "x"}, follow_redirects=False)
    assert engine.store.reader_signals() == {"c": 1} and len(engine.store.clicks()) == 1
    assert [h.doc_id for h in engine.search("", sort="popularity").hits] == ["a", "b", "c"]  # 8 + 1 < 9
    for _ in range(2):  # two more readers open c: 8 + 3 = 11 lifts it to the top
        other = TestClient(create_app(engine))
        other.get("/")
        other.get("/click", params={"id": "c"}, follow_redirects=False)
    assert [h.doc_id for h in engine.search("", sort="popularity").hits] == ["c", "a", "b"]
    assert [h.doc_id for h in engine.search("", sort="popularity", offset=1, limit=1).hits] == ["a"]
    assert [h.doc_id for h in engine.search("alpha OR gamma", sort="popularity").hits] == ["c", "a"]


def test_a_bad_parameter_raised_in_a_pool_process_keeps_both_languages():
    import pickle

    from jiansuo.web.params import BadParameter

    error = pickle.loads(pickle.dumps(BadParameter("rerank up to 200", "rerank 最多 200")))
    assert isinstance(error, BadParameter)
    assert error.message("zh") == "rerank 最多 200" and str(error) == "rerank up to 200"


def test_a_papers_page_gives_its_whole_reference_and_doi(tmp_path, fixtures):
    from starlette.testclient import TestClient

    from jiansuo.engine import Engine
    from jiansuo.ingest import read_path
    from jiansuo.model import Document
    from jiansuo.web.app import create_app

    engine = Engine(tmp_path / "store")
    engine.add([d for d in read_path(fixtures / "arxiv_snapshot.jsonl") if hasattr(d, "title")])
    engine.add([Document(id="bad", title="Hostile", metadata={"doi": '10.1/x"><script>alert(1)</script>'})])
    engine.refresh()
    client = TestClient(create_app(engine))
    page = client.get("/doc/0704.0001").text
    assert 'class="label venue" href="/?venue=Phys.Rev.D">Phys.Rev.D</a>' in page
    assert 'Phys.Rev.D76:013009,2007 · <a href="https://doi.org/10.1103/PhysRevD.76.013009"' in page
    assert "<script>alert" not in client.get("/doc/bad").text


def test_the_home_page_of_undated_documents_does_not_call_them_newest(tmp_path):
    from starlette.testclient import TestClient

    from jiansuo.engine import Engine
    from jiansuo.model import Document
    from jiansuo.web.app import create_app

    engine = Engine(tmp_path / "store")
    engine.add([Document(id=f"w{i}", title=f"Article {i}", body="An encyclopedia summary.") for i in range(3)])
    engine.refresh()
    home = TestClient(create_app(engine)).get("/?lang=en").text
    assert '<h1 class="listing">All documents</h1>' in home and "Article 0" in home


def test_a_date_given_as_a_year_or_month_is_shown_and_linked_at_that_precision(tmp_path, fixtures):
    from starlette.testclient import TestClient

    from jiansuo.engine import Engine
    from jiansuo.ingest import read_path
    from jiansuo.ingest.fields import document_from_record
    from jiansuo.web.app import create_app

    engine = Engine(tmp_path / "store")
    papers = [d for d in read_path(fixtures / "papers.bib") if hasattr(d, "title")]  # erdos1959: year only
    month, _ = document_from_record({"id": "m1", "title": "A month", "date": "2019-11"})
    day, _ = document_from_record({"id": "d1", "title": "A day", "date": "2019-11-05"})
    engine.add([*papers, month, day])
    engine.refresh()
    client = TestClient(create_app(engine))
    listing = client.get("/", params={"q": "Random Graphs"}).text
    assert '<a class="day" href="/?from=1959-01-01&amp;to=1959-12-31">1959</a>' in listing
    assert "1959-01-01</a>" not in listing
    listing = client.get("/", params={"q": "month"}).text
    assert '<a class="day" href="/?from=2019-11-01&amp;to=2019-11-30">2019-11</a>' in listing
    assert '<a class="day" href="/day/2019-11-05">2019-11-05</a>' in client.get("/", params={"q": "day"}).text
    assert "Paul Erdős, Alfréd Rényi | 1959</p>" in client.get("/doc/erdos1959").text.replace("\n", "")
    home = client.get("/").text  # the month facet counts a year-only date as its year, linked to the year
    assert "<a href=\"/?from=1959-01-01&amp;to=1959-12-31&amp;sort=date\">1959</a>" in home and ">1959-01<" not in home
    assert '<h1 class="listing">Newest</h1>' in client.get("/?lang=en").text
    assert '<h1 class="listing">All documents</h1>' in client.get("/?lang=en&sort=popularity").text
    hit = client.get("/api/search", params={"q": "Random Graphs"}).json()["hits"][0]
    assert (hit["date"], hit["date_precision"]) == ("1959-01-01", "year")


def test_results_say_so_while_another_process_builds_the_first_dense_index(posts_engine, client_for_posts):
    import subprocess
    import sys

    assert not posts_engine.dense_being_built()
    assert 'id="meaning-pending"' not in client_for_posts.get("/", params={"q": "扩散模型"}).text
    builder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a version folder as IndexDirs.building leaves it while `jiansuo index --dense` encodes
        version = posts_engine.path / "indexes" / "dense" / "v000001"
        version.mkdir(parents=True)
        (version / ".builder").write_text(str(builder.pid), encoding="utf-8")
        assert posts_engine.dense_being_built() and posts_engine.stats()["dense_being_built"]
        page = client_for_posts.get("/", params={"q": "扩散模型", "lang": "zh"}).text
        assert 'id="meaning-pending"' in page and "语义索引正在构建" in page
        assert 'id="meaning-pending"' not in client_for_posts.get("/").text  # a listing needs no meaning
    finally:
        builder.kill()
        builder.wait()
    assert not posts_engine.dense_being_built()  # its builder is gone: an abandoned build, not a pending index

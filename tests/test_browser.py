"""The result and document pages in a real headless Chromium, against a real server on loopback.

Screenshots land in test-artifacts/ for a person to look at.
"""

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/test.sh installs it as root)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.requests = []
    tab.dialogs = []
    tab.on("request", lambda request: tab.requests.append(request.url))
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in tab.requests), tab.requests
    context.close()


def search(page, text):
    page.fill("input[name=q]", text)
    with page.expect_navigation():
        page.click("button[type=submit]")


def hit_ids(page):
    return [href.split("id=")[1].split("&")[0] for href in
            page.eval_on_selector_all("a.title", "els => els.map(e => e.getAttribute('href'))")]


def test_chinese_and_english_queries_show_highlighted_hits(page, live_server):
    page.goto(live_server.url + "/")
    assert page.text_content("button[type=submit]") == "搜索"  # Accept-Language zh-CN
    search(page, "条件控制")
    assert "生成扩散模型漫谈" in page.locator("a.title").first.inner_text()
    assert {"条件", "控制"} <= set(page.locator("li.hit").first.locator("mark").all_inner_texts()) | {
        m for t in page.locator("li.hit").first.locator("mark").all_inner_texts() for m in ("条件", "控制") if m in t}
    assert "苏剑林 | 2022-08-30 | 52338位读者" in page.locator("p.byline").first.inner_text()
    search(page, "electric charges")
    assert hit_ids(page)[0] == "p4"
    marks = [m.lower() for m in page.locator("li.hit").first.locator("mark").all_inner_texts()]
    assert "electric" in marks and "charges" in marks
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "results-en.png"), full_page=True)


def test_date_filter_and_category_difference(page, live_server):
    page.goto(live_server.url + "/?lang=en")
    page.click("details.filters summary")
    page.fill("input[name=from]", "2022-09-01")
    page.fill("input[name=to]", "2022-12-31")
    page.fill("input[name=category]", "cs.LG+cs.IR+cs.CL-cs.CY")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert set(hit_ids(page)) == {"p2", "p4"}  # p3 is cs.CY, p1 is before September
    assert "from=2022-09-01" in page.url and "category=cs.LG%2Bcs.IR%2Bcs.CL-cs.CY" in page.url
    with page.expect_navigation():  # a category label filters
        page.click("a.label.cat >> text=cs.IR")
    assert set(hit_ids(page)) == {"p2"} and "category=cs.IR" in page.url


def test_open_a_document_with_rendered_math(page, live_server):
    page.goto(live_server.url + "/?lang=zh")
    search(page, "最小作用量")
    assert page.locator("li.hit").first.locator("math").count() >= 1  # math in the title
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "results-zh.png"), full_page=True)
    with page.expect_navigation():
        page.locator("a.title").first.click()
    assert page.url.startswith(live_server.url + "/doc/math1")
    assert page.locator("h1 math").count() == 1
    assert page.locator("section.body math[display=block]").count() == 1
    assert page.evaluate("document.querySelector('h1 math') instanceof MathMLElement")
    height = page.evaluate("document.querySelector('section.summary mfrac').getBoundingClientRect().height")
    assert height > 0
    visible = page.inner_text("main")
    assert "$" not in visible and "\\mathcal" not in visible and "\\frac" not in visible
    assert page.locator("aside.related a").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "document-math.png"), full_page=True)


@pytest.mark.parametrize("path", ["/?q=hostile", "/doc/xss1", "/?q=hostile&lang=en&sort=date"])
def test_hostile_document_is_shown_inert(page, live_server, path):
    page.add_init_script("window.alert = () => { window.__pwned = 1 }")
    page.goto(live_server.url + path)
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None and page.dialogs == []
    # not just blocked by the Content-Security-Policy: the markup never became elements
    assert page.evaluate("document.querySelectorAll('[onerror],[onload],img[src=x],svg:not(.wordcloud),"
                         "main script').length") == 0
    assert page.evaluate("[...document.querySelectorAll('a')].filter(a => /^\\s*javascript:/i.test("
                         "a.getAttribute('href') || '')).length") == 0
    assert "<script>window.__pwned=1</script>" in page.inner_text("main")


def test_research_post_with_aligned_display_math(page, live_server):
    page.goto(live_server.url + "/doc/blog-aligned")
    body = page.locator("section.body")
    assert body.locator("math[display=block]").count() == 2
    assert body.locator("math[display=block] mtable").count() == 1  # the aligned rows laid out as a table
    assert page.evaluate("document.querySelector('section.body math mtable') instanceof MathMLElement")
    rows = page.evaluate("[...document.querySelectorAll('section.body mtable > mtr')].map(r => "
                         "r.getBoundingClientRect().top)")
    assert len(rows) == 2 and rows[1] > rows[0] + 5  # two rows, one under the other
    # as in LaTeX, the `=` signs line up: the left side ends flush right, the right side starts flush left
    glyphs = ("(cells, side) => cells.map(c => { const r = document.createRange(); "
              "r.selectNodeContents(side === 'right' ? c.lastElementChild : c.firstElementChild); "
              "return r.getBoundingClientRect()[side]; })")  # the glyphs, not the operators' spacing
    ends = page.evaluate(f"({glyphs})([...document.querySelectorAll('section.body mtd[columnalign=right]')], 'right')")
    starts = page.evaluate(f"({glyphs})([...document.querySelectorAll('section.body mtd[columnalign=left]')], 'left')")
    assert len(ends) == len(starts) == 2
    assert abs(ends[0] - ends[1]) < 1.5 and abs(starts[0] - starts[1]) < 1.5
    text = page.evaluate("(() => { const c = document.querySelector('section.body').cloneNode(true);"
                         " c.querySelectorAll('math').forEach(m => m.remove()); return c.innerText; })()")
    assert "\\" not in text and "$" not in text and "&" not in text and "5pt" not in text
    assert page.locator("section.body .eqno").all_inner_texts() == ["(1)", "(2)"]
    assert body.locator("a", has_text="《第一篇》").get_attribute("href") == "https://blog.example.org/archives/7"
    assert body.locator("table td math").count() == 1
    page.screenshot(path=str(ARTIFACTS / "research-post-aligned.png"), full_page=True)


def test_home_page_lists_the_newest_documents_with_facet_counts(page, live_server, web_engine):
    page.goto(live_server.url + "/?lang=en")
    assert page.inner_text("h1.listing") == "Newest"
    dates = page.locator("li.hit a.day").all_inner_texts()
    assert dates[:3] == ["2024-03-01", "2023-05-20", "2023-01-05"] and dates == sorted(dates, reverse=True)
    facets = page.locator("aside.facets section.facet-category li")
    counts = {li.locator("a").inner_text(): int(li.locator(".n").inner_text()) for li in facets.all()}
    stored = [d for d in web_engine.store.documents()]
    assert counts["cs.IR"] == sum("cs.IR" in d.categories for d in stored) >= 1
    with page.expect_navigation():  # a facet filters the listing
        page.locator("aside.facets section.facet-category a", has_text="cs.IR").click()
    assert "category=cs.IR" in page.url and set(hit_ids(page)) == {d.id for d in stored if "cs.IR" in d.categories}
    page.goto(live_server.url + "/?lang=en")
    page.screenshot(path=str(ARTIFACTS / "home-newest.png"), full_page=True)


def test_day_view_with_previous_and_next_days(page, live_server):
    page.goto(live_server.url + "/?lang=en")
    with page.expect_navigation():
        page.locator("li.hit a.day", has_text="2022-11-02").first.click()
    assert page.url.endswith("/day/2022-11-02")
    assert hit_ids(page) == ["p2"] and "2022-11-02" in page.inner_text("h1.listing")
    assert page.get_attribute("nav.days a[rel=prev]", "href") == "/day/2022-10-18"
    assert page.get_attribute("nav.days a[rel=next]", "href") == "/day/2022-11-09"
    with page.expect_navigation():
        page.click("nav.days a[rel=next]")
    assert hit_ids(page) == ["p3"]


def test_star_a_document_see_it_in_my_stars_and_its_feed_then_unstar(page, live_server):
    import xml.etree.ElementTree as ET

    page.goto(live_server.url + "/?lang=en&q=CUR")
    first = page.locator("li.hit").first
    doc_id = hit_ids(page)[0]
    assert first.locator("form.star button").inner_text() == "☆ Star"
    with page.expect_navigation():
        first.locator("form.star button").click()
    assert "q=CUR" in page.url  # back where the reader was
    assert page.locator("li.hit").first.locator("form.star button").inner_text() == "★ Starred"
    page.goto(live_server.url + "/stars?lang=en")
    assert [a.get_attribute("href") for a in page.locator("li.hit a.title").all()] == [f"/doc/{doc_id}"]
    feed_url = page.get_attribute("link[type='application/atom+xml']", "href")
    feed = ET.fromstring(page.request.get(live_server.url + feed_url).body())
    assert [e.findtext("{http://www.w3.org/2005/Atom}id").rsplit("/", 1)[1] for e in
            feed.iter("{http://www.w3.org/2005/Atom}entry")] == [doc_id]
    exported = page.request.get(live_server.url + "/stars.json").json()
    assert [s["id"] for s in exported["stars"]] == [doc_id]
    page.screenshot(path=str(ARTIFACTS / "my-stars.png"), full_page=True)
    with page.expect_navigation():
        page.locator("form.star button").first.click()
    page.goto(live_server.url + "/stars?lang=en")
    assert page.locator("#no-stars").count() == 1


def test_a_star_post_without_its_csrf_token_is_refused(page, live_server):
    page.goto(live_server.url + "/?lang=en&q=CUR")  # the reader cookie
    doc_id = hit_ids(page)[0]
    forged = page.request.post(live_server.url + "/star", form={"id": doc_id, "state": "on"},
                               max_redirects=0)
    assert forged.status == 403
    wrong = page.request.post(live_server.url + "/star", form={"id": doc_id, "csrf": "0" * 64}, max_redirects=0)
    assert wrong.status == 403
    page.goto(live_server.url + "/stars?lang=en")
    assert page.locator("#no-stars").count() == 1


def test_sort_by_preference_changes_the_order_after_starring(page, live_server):
    page.goto(live_server.url + "/?lang=en&sort=date")
    newest_first = hit_ids(page)
    target = newest_first[4]
    page.goto(live_server.url + "/?lang=en&sort=preference")
    assert hit_ids(page) == newest_first  # nothing starred yet: the list as it was
    page.goto(live_server.url + "/?lang=en&sort=date")
    with page.expect_navigation():
        page.locator("li.hit").nth(4).locator("form.star button").click()
    page.goto(live_server.url + "/?lang=en&sort=preference")
    assert hit_ids(page)[0] == target and hit_ids(page) != newest_first
    with page.expect_navigation():  # unstar, for the other tests
        page.locator("li.hit").first.locator("form.star button").click()


def word_boxes(page, selector):
    return page.evaluate(f"[...document.querySelectorAll('{selector} text')].map(t => {{"
                         "const b = t.getBoundingClientRect(); return [t.textContent, b.x, b.y, b.width, b.height]; })")


@pytest.mark.parametrize("path", ["/?lang=zh", "/?q=模型&lang=en", "/doc/blog-aligned"])
def test_word_cloud_renders_without_overlaps(page, live_server, path):
    page.goto(live_server.url + path)
    selector = "svg.wordcloud"
    assert page.locator(selector).count() == 1 and page.locator(f"{selector} a text").count() >= 3
    boxes = word_boxes(page, selector)
    assert all(w > 0 and h > 0 for _, _, _, w, h in boxes)
    for i, (a, ax, ay, aw, ah) in enumerate(boxes):
        for b, bx, by, bw, bh in boxes[i + 1 :]:
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (a, b)
    svg = page.locator(selector).bounding_box()
    assert all(svg["x"] - 1 <= x and x + w <= svg["x"] + svg["width"] + 1 for _, x, _, w, _ in boxes)
    href = page.locator(f"{selector} a").first.get_attribute("href")
    assert href.startswith("/?q=")
    page.locator(selector).screenshot(path=str(ARTIFACTS / f"wordcloud-{path.strip('/?').split('&')[0] or 'home'}"
                                                            f".png".replace("/", "-").replace("=", "-")))

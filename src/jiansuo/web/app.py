"""The web app: result and listing pages, document page, click log, JSON API, Atom feeds.

The event loop only parses requests and writes responses: every search, document lookup and rendering runs in
a bounded pool of threads (the engine keeps one SQLite connection per thread and locks its caches), so one slow
request (a long query, a rerank, a ce-knn search) never stalls the others. A request that takes longer than
its time budget gets 503; its thread is abandoned, not waited for.
"""

from __future__ import annotations

import calendar
import math
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from jiansuo.config import Config, load_config
from jiansuo.engine import KEPT_KEYWORDS, Engine
from jiansuo.model import Document, Hit, SearchPage, SearchRequest
from jiansuo.rerank.ce_knn import CeKnnUnavailable
from jiansuo.searching import ModeUnavailable
from jiansuo.store.api_keys import ApiKeys
from jiansuo.web import render
from jiansuo.web.feed import atom_feed
from jiansuo.web.i18n import TEXT, choose_language
from jiansuo.web.job_pool import JobPool
from jiansuo.web.params import BadParameter, parse_search, search_url
from jiansuo.web.readers import COOKIE, COOKIE_MAX_AGE, Readers
from jiansuo.web.wordcloud import word_cloud
from jiansuo.web.write_api import KeyGate, add_write_routes

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    # The page needs no script at all; forbidding it is a second wall behind escaping.
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


SEARCH_THREADS = 8  # searches at once per worker; more wait their turn
REQUEST_BUDGET_S = 10.0  # past this a request is answered 503


class OverBudget(Exception):
    """A request took longer than the server's time budget."""


def create_app(engine: Engine, base_url: str = "", search_threads: int | None = None,
               request_budget_s: float | None = None, settings: Config | None = None,
               pool: JobPool | None = None) -> FastAPI:
    """The site for `engine`. `base_url` is where readers reach it: feed links use it, never the Host header.
    `settings`: the site's configuration (config.py; default: the store's jiansuo.toml, or the defaults); the
    explicit arguments override it. `pool`: processes that run the jobs (searches, pages) instead of this
    process's threads (web/job_pool.py); the rest (writes, stars) stays in threads here."""
    settings = settings or load_config(engine.path)
    base_url = (base_url or settings["site.base_url"] or "http://localhost:8000").rstrip("/")
    search_threads = search_threads or settings["server.search_threads"]
    request_budget_s = request_budget_s or settings["server.request_seconds"]
    max_rerank, max_budget = settings["server.max_rerank"], settings["server.max_budget"]
    limiter = anyio.CapacityLimiter(search_threads)
    gate = KeyGate(ApiKeys(engine.path / "store.sqlite"), settings["api.keyed_reads"])
    readers = Readers(engine.store.secret("readers"))

    jobs: dict[str, Callable] = {"nearest_days": engine.nearest_days}

    def job(function: Callable) -> Callable:
        """Mark `function` as a job: with a pool, it runs there (by name, over the pool process's engine)."""
        jobs[function.__name__] = function
        return function

    async def off_loop(function, *args):
        """`function(*args)` in the pool or the thread pool, within the request budget (OverBudget past it)."""
        try:
            with anyio.fail_after(request_budget_s):
                if pool is not None and jobs.get(function.__name__) == function:  # a job, not a namesake
                    return await pool.run(function.__name__, args)
                return await anyio.to_thread.run_sync(function, *args, abandon_on_cancel=True, limiter=limiter)
        except TimeoutError:
            raise OverBudget(f"the request took longer than {request_budget_s:g} s") from None
    # /docs and /redoc would load their scripts from a CDN, which an air-gapped site cannot reach: not served
    app = FastAPI(title="jiansuo", version="0.1.0", summary="Search research writing (中文/English/LaTeX)",
                  docs_url=None, redoc_url=None)
    app.state.engine = engine
    app.state.jobs = jobs
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(highlighted=render.highlighted, text_with_math=render.text_with_math,
                                 safe_url=render.safe_url, search_url=search_url, quote=quote, month_end=_month_end,
                                 keyword_query=_keyword_query, word_cloud=word_cloud, date_link=_date_link)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @job
    def searched(search) -> SearchPage:
        if search.rerank > max_rerank or (search.mode == "ce-knn" and search.budget > max_budget):
            raise BadParameter(f"this server allows rerank up to {max_rerank} and budget up to {max_budget}",
                               f"本站 rerank 最多 {max_rerank}，budget 最多 {max_budget}")
        try:
            return engine.search(search)
        except (CeKnnUnavailable, ModeUnavailable) as error:
            raise BadParameter(str(error)) from error

    if settings["api.writes"]:
        add_write_routes(app, engine, off_loop, gate, settings["server.max_body_bytes"])

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        if gate.keyed_reads and not _open_path(request.url.path) and request.method in ("GET", "HEAD"):
            if (refused := gate.refused(request, "search")) is not None:
                refused.headers.update(SECURITY_HEADERS)
                return refused
        known = readers.from_cookie(request.cookies.get(COOKIE))
        request.state.reader_known = known is not None
        request.state.reader = known or readers.new_id()
        try:
            response = await call_next(request)
        except OverBudget as error:
            if request.url.path.startswith("/api/") or request.url.path.startswith("/feed"):
                response = JSONResponse({"error": str(error)}, status_code=503)
            else:
                response = error_page(request, 503, str(error))
        response.headers.update(SECURITY_HEADERS)
        if not request.state.reader_known and response.headers.get("content-type", "").startswith("text/html"):
            # a new reader gets an anonymous id with its first page, so its star buttons work
            response.set_cookie(COOKIE, readers.cookie_value(request.state.reader), max_age=COOKIE_MAX_AGE,
                                httponly=True, samesite="lax", secure=base_url.startswith("https:"))
        return response

    def page_context(request: Request, **values) -> dict:
        lang = _language(request)
        switch_to = "en" if lang == "zh" else "zh"
        params = dict(request.query_params)
        params["lang"] = switch_to
        switch_url = str(request.url.path) + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in params.items())
        return {"request": request, "t": TEXT[lang], "lang": lang, "switch_url": switch_url,
                "ce_knn": engine.has_cur(), "csrf": readers.csrf_token(request.state.reader),
                "here": str(request.url.path) + ("?" + request.url.query if request.url.query else ""), **values}

    def error_page(request: Request, status: int, message: str, heading: str = "") -> HTMLResponse:
        """`heading`: the key of the interface text that titles the page, when not the status's own."""
        return templates.TemplateResponse(request, "error.html",
                                          page_context(request, message=message, status=status, heading=heading),
                                          status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def page_not_found(request: Request, error: StarletteHTTPException):
        """A browser asking for a page that does not exist gets a page it can search from; the API keeps JSON."""
        wants_page = "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")
        if error.status_code == 404 and wants_page:
            return error_page(request, 404, request.url.path, heading="no_page")
        return await http_exception_handler(request, error)

    @app.get("/search", include_in_schema=False)
    async def search_alias(request: Request):
        """`/search?q=…`, the address many sites' search forms send to, is the result page."""
        return RedirectResponse("/" + (f"?{request.url.query}" if request.url.query else ""))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def search_page(request: Request):
        """Results of a query, or with no query a listing (newest first) of everything the filters keep."""
        try:
            search = parse_search(request.query_params)
            if not search.query.strip() and "sort" not in request.query_params:
                search.sort = "date"  # nothing to rank by relevance: list the newest
            page, facets = await off_loop(listed, search, request.state.reader)
        except BadParameter as error:
            return error_page(request, 400, error.message(_language(request)))
        return results_page(request, search, page, facets)

    @app.get("/day/{day}", response_class=HTMLResponse, include_in_schema=False)
    async def day_page(request: Request, day: str):
        """Every document of one date, like a daily list of new papers, with the previous and next dates."""
        try:
            params = {**request.query_params, "from": day, "to": day}
            params.setdefault("sort", "date")
            params.setdefault("limit", "100")
            search = parse_search(params)
            page, facets = await off_loop(listed, search, request.state.reader)
        except BadParameter as error:
            return error_page(request, 400, error.message(_language(request)))
        assert search.date_from is not None
        previous, following = await off_loop(engine.nearest_days, search.date_from, replace(search, query=""))
        return results_page(request, search, page, facets, day=search.date_from, previous_day=previous,
                            next_day=following)

    @job
    def listed(search: SearchRequest, reader: str) -> tuple[SearchPage, dict]:
        if search.sort == "preference":
            search.prefer = tuple(doc_id for doc_id, _ in engine.store.stars_of(reader)[:200])
        page = searched(search)
        facets: dict[str, Any] = dict(engine.facets(replace(search, offset=0))) if page.total else {}
        words = {hit.doc_id: engine.keywords(hit.document) for hit in page.hits if hit.document}
        facets["keywords"] = {doc_id: found[:5] for doc_id, found in words.items()}
        facets["cloud"] = _cloud(words.values())
        facets["starred"] = engine.store.starred_among(reader, [hit.doc_id for hit in page.hits])
        # off the event loop with the rest: it reads the engine, whose lock a refresh may hold
        facets["meaning_pending"] = bool(search.query.strip()) and engine.dense_being_built()
        return page, facets

    def results_page(request: Request, search: SearchRequest, page: SearchPage, facets: dict,
                     **extra) -> HTMLResponse:
        return templates.TemplateResponse(request, "search.html", page_context(
            request, search=search, page=page, pages=_pagination(page), facets=facets,
            back_url=search_url("/", search), has_filters=_has_filters(search),
            sort_chosen="sort" in request.query_params, **extra))

    @app.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
    async def document_page(request: Request, doc_id: str):
        found = await off_loop(rendered_document, doc_id, request.state.reader)
        if found is None:
            return error_page(request, 404, doc_id)
        document, body, (related, shared), keywords, starred = found
        return templates.TemplateResponse(request, "doc.html", page_context(
            request, doc=document, body=body, related=related, shared=shared, keywords=keywords, starred=starred,
            cloud=_cloud([keywords]),
            back=_local_path(request.query_params.get("back", ""))))

    @job
    def rendered_document(doc_id: str, reader: str):
        document = engine.get(doc_id)
        if document is None:
            return None
        related = engine.related(doc_id, limit=6)
        mine = engine.keywords(document, KEPT_KEYWORDS)
        texts = {k.text for k in mine}
        shared = {hit.doc_id: [k.text for k in engine.keywords(hit.document, KEPT_KEYWORDS) if k.text in texts][:3]
                  for hit in related if hit.document}  # why each is related: the keywords both have
        return (document, render.markdown(document.body, document.url), (related, shared),
                mine[:10], bool(engine.store.starred_among(reader, [doc_id])))

    @app.post("/star", include_in_schema=False)
    async def star(request: Request):
        """Star or unstar a document for this browser's anonymous reader: a form POST with its CSRF token."""
        form = await request.form()
        doc_id, on = str(form.get("id", ""))[:600], form.get("state") != "off"
        if not request.state.reader_known or not readers.csrf_ok(request.state.reader, str(form.get("csrf") or "")):
            return error_page(request, 403, str(TEXT[_language(request)]["forbidden"]))
        if not await off_loop(starred_now, request.state.reader, doc_id, on):
            return error_page(request, 404, doc_id)
        back = str(form.get("back", ""))
        local = back if back.startswith("/") and render.safe_url(back) else f"/doc/{quote(doc_id)}"
        return RedirectResponse(local, status_code=303)

    def starred_now(reader: str, doc_id: str, on: bool) -> bool:
        if engine.get(doc_id) is None:
            return False
        engine.store.star(reader, doc_id, on)
        return True

    @app.get("/stars", response_class=HTMLResponse, include_in_schema=False)
    async def my_stars(request: Request):
        """This browser's starred documents, newest star first, with their feed and an export."""
        hits = await off_loop(starred_hits, request.state.reader)
        cloud = await off_loop(lambda: _cloud(engine.keywords(h.document) for h in hits if h.document))
        return templates.TemplateResponse(request, "stars.html", page_context(
            request, hits=hits, feed_key=readers.feed_key(request.state.reader), cloud=cloud))

    @app.get("/stars.json", summary="Export this browser's stars (id, title, url, when)")
    async def export_stars(request: Request):
        hits = await off_loop(starred_hits, request.state.reader)
        return {"stars": [{"id": h.doc_id, "title": h.document.title if h.document else "",
                           "url": render.safe_url(h.document.url) if h.document else None,
                           "starred_at": datetime.fromtimestamp(h.score, UTC).isoformat(timespec="seconds")}
                          for h in hits]}

    @app.get("/stars/{key}.atom", include_in_schema=False)
    async def stars_feed(key: str):
        reader = readers.from_feed_key(key)
        if reader is None:
            return JSONResponse({"error": "no such feed"}, status_code=404)
        hits = await off_loop(starred_hits, reader)
        page = SearchPage(hits, len(hits), SearchRequest(sort="date", limit=len(hits) or 1))
        return Response(atom_feed(page, "jiansuo: starred", f"{base_url}/stars/{key}.atom", base_url),
                        media_type="application/atom+xml")

    @job
    def starred_hits(reader: str) -> list[Hit]:
        stars = engine.store.stars_of(reader)
        documents = engine.store.get_many([doc_id for doc_id, _ in stars])
        return [Hit(doc_id, at, document=documents[doc_id]) for doc_id, at in stars if doc_id in documents]

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @app.get("/click", include_in_schema=False)
    async def click(request: Request, q: str = "", id: str = "", rank: int = 0, mode: str = "", back: str = ""):
        """Log which result of which query was opened, then go to it (with the way back to the result page:
        query, filters, sort and page). Nothing about the user is kept."""
        if id and await off_loop(logged_click, q[:1000], id, max(0, min(rank, 10_000)), mode[:20],
                                 request.state.reader if request.state.reader_known else None):
            way_back = _local_path(back) or search_url("/", SearchRequest(query=q[:1000]))
            return RedirectResponse(f"/doc/{quote(id)}?back={quote(way_back)}", status_code=303)
        return RedirectResponse("/", status_code=303)

    @job
    def searched_json(search: SearchRequest) -> dict:
        page = searched(search)
        data = _page_json(page)
        for hit, shown in zip(page.hits, data["hits"], strict=True):
            shown["keywords"] = [k.text for k in engine.keywords(hit.document)] if hit.document else []
        return data

    def logged_click(query: str, doc_id: str, rank: int, mode: str, reader: str | None) -> bool:
        """Log the click; a known reader's first open of the document today counts towards its popularity
        (a replayed click, or a thousand, counts once; the query log keeps a click only with that first open)."""
        if engine.get(doc_id) is None:
            return False
        if reader is not None and engine.store.record_open(reader, doc_id, date.today().toordinal()):
            engine.store.log_click(query, doc_id, rank, mode)
        return True

    @app.get("/api/search", summary="Search; the same parameters as the result page")
    async def api_search(
        request: Request,
        q: str = Query("", description="query, with the syntax of the search box"),
        from_: str | None = Query(None, alias="from", description="first date, YYYY-MM-DD"),
        to: str | None = Query(None, description="last date, YYYY-MM-DD"),
        category: str = Query("", description="union and difference, e.g. cs.AI+cs.LG-cs.CY"),
        venue: str = "", tag: str = "",
        sort: str = Query("relevance", description="relevance | date | popularity"),
        page: str | None = Query(None, description="1-based page number"),
        limit: str | None = Query(None, description="hits per page, 1-100"),
        mode: str = Query("", description="bm25 | dense | hybrid | ce-knn (default: hybrid when a dense index "
                                           "exists); ce-knn = the cross-encoder's own top k, found by CUR"),
        rerank: str | None = Query(None, description="rerank the top K (0-200) with the server's cross-encoder"),
        budget: str | None = Query(None, description="mode=ce-knn: cross-encoder calls per query (10-2000)"),
    ):
        try:
            return await off_loop(searched_json, parse_search(request.query_params))
        except BadParameter as error:
            return JSONResponse({"error": str(error)}, status_code=400)

    @app.get("/api/doc/{doc_id:path}", summary="One document, as stored")
    async def api_document(doc_id: str):
        found = await off_loop(stored_document, doc_id)
        if found is None:
            return JSONResponse({"error": f"no document with id {doc_id!r}"}, status_code=404)
        return found

    @job
    def stored_document(doc_id: str) -> dict | None:
        document = engine.get(doc_id)
        if document is None:
            return None
        return cast(dict, _finite({**document.to_dict(), "keywords": [k.text for k in engine.keywords(document)],
                                   "related": [_hit_json(h) for h in engine.related(doc_id, limit=6)]}))

    @app.get("/api/stats", summary="What the store and its index hold")
    async def api_stats():
        return {**await off_loop(stats), "worker": os.getpid()}

    @job
    def stats() -> dict:
        return {**engine.stats(), "searched_by": os.getpid()}

    @app.get("/feed.atom", summary="Atom feed of any search (same parameters as /api/search)",
             response_class=Response)
    async def feed(request: Request):
        try:
            search = parse_search(request.query_params)
        except BadParameter as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        if search.sort == "relevance" and "sort" not in request.query_params:
            search.sort = "date"  # a subscription wants the newest first
        try:
            page = await off_loop(searched, search)
        except BadParameter as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        title = f"jiansuo: {search.query or search.categories or search.venue or search.tag or 'all'}"
        self_url = base_url + search_url("/feed.atom", search)
        return Response(atom_feed(page, title, self_url, base_url), media_type="application/atom+xml")

    @app.get("/feed/category/{name}.atom", include_in_schema=False)
    async def category_feed(name: str):
        return RedirectResponse(search_url("/feed.atom", parse_search({}), category=name, sort="date"))

    @app.get("/feed/venue/{name}.atom", include_in_schema=False)
    async def venue_feed(name: str):
        return RedirectResponse(search_url("/feed.atom", parse_search({}), venue=name, sort="date"))

    return app


def _open_path(path: str) -> bool:
    """Paths served without a key even when reads are keyed (styles, the icon)."""
    return path.startswith("/static/") or path == "/favicon.ico"


def _cloud(keyword_lists) -> list[tuple[str, float]]:
    """Keywords of several documents summed by their shown text: the words of a word cloud, heaviest first."""
    weights: dict[str, float] = {}
    for keywords in keyword_lists:
        for keyword in keywords:
            weights[keyword.text] = weights.get(keyword.text, 0.0) + keyword.weight
    return sorted(weights.items(), key=lambda item: -item[1])[:40]


def _keyword_query(text: str) -> str:
    """The search for a keyword: the phrase itself, quoted when it holds a space."""
    return f'"{text}"' if " " in text else text


def _date_link(document: Document) -> str:
    """The listing of a document's date at the precision it has: its day's page, or its month's or year's range."""
    label = document.date_label()
    if len(label) == 10:
        return f"/day/{label}"
    if len(label) == 7:
        return f"/?from={label}-01&to={label}-{_month_end(label)}"
    return f"/?from={label}-01-01&to={label}-12-31"


def _month_end(month: str) -> str:
    """'2024-02' -> '29': the last day of a month, for a month facet's date range."""
    year, number = (int(part) for part in month.split("-"))
    return f"{calendar.monthrange(year, number)[1]:02d}"


def _finite(value: object) -> object:
    """JSON cannot hold NaN or infinities (a store written before ingest refused them may have some): null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _language(request: Request) -> str:
    return choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def _local_path(url: str) -> str:
    """`url` when it is a path on this site (the result page), else "" (never a way off the site)."""
    url = (url or "")[:2000]
    return url if (url.startswith("/?") or url == "/") and render.safe_url(url) else ""


def _has_filters(search) -> bool:
    return bool(search.date_from or search.date_to or search.categories or search.venue or search.tag)


def _pagination(page: SearchPage) -> dict:
    request = page.request
    current = request.offset // request.limit + 1
    last = max(1, -(-min(page.total, 10_000) // request.limit))
    return {"current": current, "last": last, "previous": current - 1 if current > 1 else None,
            "next": current + 1 if current < last else None}


def _hit_json(hit: Hit) -> dict:
    document: Document | None = hit.document
    return {
        "id": hit.doc_id, "score": hit.score,
        "title": document.title if document else "",
        "authors": document.authors if document else [],
        "date": document.date.isoformat() if document and document.date else None,
        "date_precision": document.metadata.get("date_precision", "day") if document and document.date else None,
        "url": render.safe_url(document.url) if document else None,
        "categories": document.categories if document else [],
        "venue": document.venue if document else "",
        "tags": document.tags if document else [],
        "reads": document.reads if document else 0,
        "excerpt": render.excerpt_text(hit.excerpt),
    }


def _page_json(page: SearchPage) -> dict:
    return {"total": page.total, "offset": page.request.offset, "limit": page.request.limit,
            "terms": page.terms, "timings_ms": page.timings, "by_meaning_only": page.by_meaning_only,
            "matching_words": page.matching_words,
            "hits": [_hit_json(h) for h in page.hits]}


def app_from_env() -> FastAPI:
    """uvicorn factory for other servers (`uvicorn --factory jiansuo.web.app:app_from_env`): $JIANSUO_HOME."""
    return create_app(Engine(os.environ.get("JIANSUO_HOME", "jiansuo-data")), os.environ.get("JIANSUO_BASE_URL", ""))

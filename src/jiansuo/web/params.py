"""Query-string parameters -> SearchRequest, with a clear message for every bad value."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode

from jiansuo.model import MODES, SORTS, SearchRequest

PAGE_SIZE = 10
MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_QUERY_CHARS = 1_000
FIELDS = ("q", "from", "to", "category", "venue", "tag", "sort", "page", "limit", "lang", "mode", "rerank",
          "budget")


class BadParameter(ValueError):
    """A parameter the user can fix; the message says how, in English (str) or in Chinese (`chinese`)."""

    def __init__(self, message: str, chinese: str | None = None):
        super().__init__(message)
        self.chinese = chinese or message

    def __reduce__(self):  # raised in a pool process, it reaches the worker with both messages
        return BadParameter, (str(self), self.chinese)

    def message(self, lang: str) -> str:
        return self.chinese if lang == "zh" else str(self)


def parse_search(params: Mapping[str, str]) -> SearchRequest:
    query = params.get("q", "") or ""
    if len(query) > MAX_QUERY_CHARS:
        raise BadParameter(f"q is {len(query)} characters long; at most {MAX_QUERY_CHARS} are allowed",
                           f"查询有 {len(query)} 个字符，最多允许 {MAX_QUERY_CHARS} 个")
    if "\x00" in query:
        raise BadParameter("q contains a NUL character", "查询中含有 NUL 字符")
    sort = params.get("sort") or "relevance"
    if sort not in SORTS:
        raise BadParameter(f"sort must be one of {', '.join(SORTS)}, not {sort!r}",
                           f"排序方式须为 {', '.join(SORTS)} 之一，而不是 {sort!r}")
    mode = params.get("mode") or ""
    if mode and mode not in MODES:
        raise BadParameter(f"mode must be one of {', '.join(MODES)}, not {mode!r}",
                           f"模式须为 {', '.join(MODES)} 之一，而不是 {mode!r}")
    limit = _integer(params, "limit", PAGE_SIZE, 1, MAX_LIMIT)
    rerank = _integer(params, "rerank", 0, 0, 200)
    budget = _integer(params, "budget", 100, 10, 2000)
    page = _integer(params, "page", 1, 1, MAX_OFFSET // limit + 1)
    date_from, date_to = _date(params, "from"), _date(params, "to")
    if date_from and date_to and date_from > date_to:
        raise BadParameter(f"from ({date_from}) is after to ({date_to})",
                           f"起始日期（{date_from}）晚于截止日期（{date_to}）")
    texts = {name: (params.get(name) or "").strip() for name in ("category", "venue", "tag")}
    for name, value in texts.items():
        if len(value) > 1_000 or "\x00" in value:
            raise BadParameter(f"{name} is not a valid label", f"{name} 不是有效的标签")
    return SearchRequest(query=query, date_from=date_from, date_to=date_to, categories=texts["category"],
                         venue=texts["venue"], tag=texts["tag"], sort=sort, offset=(page - 1) * limit, limit=limit,
                         mode=mode, rerank=rerank, budget=budget)


def search_url(path: str, request: SearchRequest, **changes: object) -> str:
    """The shareable URL of `request` with some parameters changed (None removes one)."""
    values: dict[str, object] = {
        "q": request.query, "from": request.date_from, "to": request.date_to, "category": request.categories,
        "venue": request.venue, "tag": request.tag,
        "sort": request.sort if request.sort != "relevance" else None,
        "page": request.offset // request.limit + 1 if request.offset else None,
        "mode": request.mode or None,
        "rerank": request.rerank or None,
        "budget": request.budget if request.mode == "ce-knn" and request.budget != 100 else None,
    }
    values.update(changes)
    clean = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items() if v not in (None, "")}
    return f"{path}?{urlencode(clean)}" if clean else path


def _integer(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name} must be a whole number, not {raw[:40]!r}",
                           f"{name} 须为整数，而不是 {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}", f"{name} 须在 {low} 到 {high} 之间")
    return value


def _date(params: Mapping[str, str], name: str) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(f"{name} must be a date like 2022-11-09, not {raw[:40]!r}",
                           f"{name} 须为形如 2022-11-09 的日期，而不是 {raw[:40]!r}") from None
    if value.year < 1:
        raise BadParameter(f"{name} is out of range", f"{name} 超出范围")
    return value

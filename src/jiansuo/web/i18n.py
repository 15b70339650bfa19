"""Interface text in Chinese and English, chosen by ?lang= or the Accept-Language header."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

TEXT = {
    "en": {
        "title": "jiansuo search", "search": "Search", "placeholder": 'e.g. 扩散模型 "条件控制" -GAN author:苏剑林',
        "results": "{total} results", "reads": "{n} reads", "from": "From", "to": "To",
        "category": "Categories", "category_hint": "cs.AI+cs.LG-cs.CY", "venue": "Venue", "tag": "Tag",
        "sort": "Sort", "relevance": "Relevance", "date": "Date", "popularity": "Popularity",
        "preference": "Like my stars",
        "previous": "Previous", "next": "Next", "page": "Page {n}",
        "no_results": "No documents match", "no_results_help": [
            "Check the spelling, or use fewer or more general words.",
            'Quoted phrases and field: terms are required; drop the quotes to make words optional.',
            "Remove the filters:"],
        "clear_filters": "search without filters", "related": "Related", "original": "Original",
        "back": "Back to results", "feed": "Atom feed of this search", "syntax": "Syntax",
        "syntax_help": '"phrase" · -exclude · title: author: venue: tag: category: · AND / OR',
        "error": "Bad request", "not_found": "No such document", "no_page": "No such page", "switch": "中文",
        "matching_words": "{n} contain the words",
        "meaning_pending": "The meaning index is being built: these results match your words, and search turns "
                           "hybrid (words and meaning) by itself once it is ready.",
        "mode": "Mode", "mode_auto": "Automatic", "mode_bm25": "Keywords (BM25)", "mode_dense": "Meaning (dense)",
        "mode_hybrid": "Hybrid", "mode_ce-knn": "Cross-encoder k-NN (CUR)", "budget": "Model calls",
        "by_meaning": "No document contains these words; the results below are related by meaning only.",
        "newest": "Newest", "everything": "All documents", "listing": "{total} documents", "month": "Month",
        "day_title": "Documents of {day}",
        "previous_day": "Previous day", "next_day": "Next day", "browse": "Browse",
        "star": "☆ Star", "unstar": "★ Starred", "my_stars": "My stars", "cloud": "Word cloud",
        "no_stars": "Nothing starred yet.",
        "export": "Export (JSON)", "forbidden": "This form has expired or came from another site; reload the page.",
    },
    "zh": {
        "title": "检索", "search": "搜索", "placeholder": '例如 扩散模型 "条件控制" -GAN author:苏剑林',
        "results": "共 {total} 条结果", "reads": "{n}位读者", "from": "起始日期", "to": "截止日期",
        "category": "分类", "category_hint": "cs.AI+cs.LG-cs.CY", "venue": "来源", "tag": "标签",
        "sort": "排序", "relevance": "相关度", "date": "日期", "popularity": "热度",
        "preference": "像我的收藏",
        "previous": "上一页", "next": "下一页", "page": "第 {n} 页",
        "no_results": "没有找到匹配的文档", "no_results_help": [
            "请检查拼写，或换用更少、更通用的词。",
            "引号中的短语和 field: 条件是必需的；去掉引号可让词语变为可选。",
            "去掉筛选条件："],
        "clear_filters": "不带筛选重新搜索", "related": "相关文章", "original": "原文",
        "back": "返回结果", "feed": "本搜索的 Atom 订阅", "syntax": "语法",
        "syntax_help": '"短语" · -排除 · title: author: venue: tag: category: · AND / OR',
        "error": "请求有误", "not_found": "没有这篇文档", "no_page": "没有这个页面", "switch": "English",
        "matching_words": "{n} 条含这些词",
        "meaning_pending": "语义索引正在构建：以下结果只按关键词匹配，建好后自动改为混合检索（关键词 + 语义）。",
        "mode": "模式", "mode_auto": "自动", "mode_bm25": "关键词 (BM25)", "mode_dense": "语义 (向量)",
        "mode_hybrid": "混合", "mode_ce-knn": "交互式 k-NN (CUR)", "budget": "模型调用次数",
        "by_meaning": "没有文档包含这些词；以下结果仅按语义相关排列。",
        "newest": "最新文章", "everything": "全部文档", "listing": "共 {total} 篇", "month": "月份",
        "day_title": "{day} 的文章",
        "previous_day": "前一天", "next_day": "后一天", "browse": "浏览",
        "star": "☆ 收藏", "unstar": "★ 已收藏", "my_stars": "我的收藏", "cloud": "词云", "no_stars": "还没有收藏。",
        "export": "导出 (JSON)", "forbidden": "表单已失效或来自其他网站；请刷新页面。",
    },
}


def choose_language(explicit: str | None, accept_language: str | None) -> str:
    if explicit in LANGUAGES:
        return explicit
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES and quality > best_q:
            best, best_q = base, quality
    return best

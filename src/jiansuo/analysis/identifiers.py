"""A paper's identifiers, so that a query that is one lists that paper first: its id, its arXiv id (without the
version) and its DOI (case-blind), wherever the document holds them (id, url, metadata `doi`/`eprint`).

Queries are read the same way: `arXiv:2210.12579v2`, `https://arxiv.org/abs/2210.12579`, `doi:10.18653/…` and
`https://doi.org/10.18653/…` all name the paper the bare identifier names.
"""

from __future__ import annotations

import re

from jiansuo.model import Document

_OLD_ARCHIVES = (r"(?:hep-(?:th|ph|ex|lat)|astro-ph|cond-mat|gr-qc|math-ph|nucl-(?:th|ex)|quant-ph|math|cs|physics"
                 r"|nlin|q-bio|q-fin|stat|chao-dyn|solv-int|patt-sol|adap-org|alg-geom|funct-an|dg-ga|q-alg)")
ARXIV = re.compile(rf"(?<![\w.-])(\d{{4}}\.\d{{4,5}}|{_OLD_ARCHIVES}(?:\.[a-z]{{2}})?/\d{{7}})(?:v\d+)?(?![\w.]?\d)",
                   re.I)
DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+", re.I)
_QUERY_PREFIX = re.compile(r"^(?:arxiv:|doi:|https?://(?:dx\.)?doi\.org/|https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/)",
                           re.I)
_METADATA_KEYS = ("doi", "eprint", "arxiv_id", "arxiv")


def identifiers(document: Document) -> set[str]:
    """Every identifier the document holds, in the canonical form `canonical` gives."""
    found = {document.id}
    sources = [document.id, document.url] + [str(document.metadata.get(key) or "") for key in _METADATA_KEYS]
    for text in sources:
        found.update(match.group(1).lower() for match in ARXIV.finditer(text))
        found.update(_doi(match.group(0)) for match in DOI.finditer(text))
    return {key for key in found if key}


def canonical(query: str) -> str:
    """The identifier a query names when the whole query is one (prefixes and arXiv versions dropped), else ""."""
    text = _QUERY_PREFIX.sub("", query.strip()).removesuffix(".pdf")
    arxiv = ARXIV.fullmatch(text)
    if arxiv:
        return arxiv.group(1).lower()
    if DOI.fullmatch(text):
        return _doi(text)
    return ""


def _doi(text: str) -> str:
    return text.rstrip(".,;)").lower()

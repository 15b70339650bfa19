"""Retrieval stages. Each returns list[Hit]."""

from jiansuo.retrieve.backend import KeywordBackend
from jiansuo.retrieve.query import ParsedQuery, parse_query

__all__ = ["KeywordBackend", "ParsedQuery", "parse_query"]

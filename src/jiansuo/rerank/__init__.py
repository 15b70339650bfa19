"""Reranking stages: list[Hit] in, list[Hit] out."""

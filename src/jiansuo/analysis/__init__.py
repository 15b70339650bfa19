"""Text analysis: the one tokenizer used at index and at query time, and highlighting."""

from jiansuo.analysis.highlight import excerpt
from jiansuo.analysis.tokenize import Token, analyze, cjk_bigrams, detect_language, token_spans

__all__ = ["Token", "analyze", "cjk_bigrams", "detect_language", "excerpt", "token_spans"]

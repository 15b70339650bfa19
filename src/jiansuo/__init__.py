"""jiansuo (检索): self-hosted search for research writing in Chinese and English."""

from jiansuo.engine import Engine
from jiansuo.model import Document, Hit, SearchPage, SearchRequest

__all__ = ["Document", "Engine", "Hit", "SearchPage", "SearchRequest"]
__version__ = "0.1.0"

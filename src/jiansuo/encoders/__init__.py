"""Text encoders behind one interface (bi-encoders for dense retrieval)."""

from jiansuo.encoders.base import Encoder, load_encoder

__all__ = ["Encoder", "load_encoder"]

"""Text encoders behind one interface (bi-encoders for dense retrieval)."""

from jiansuo.encoders.base import DEFAULT_ENCODER, Encoder, load_encoder

__all__ = ["DEFAULT_ENCODER", "Encoder", "load_encoder"]

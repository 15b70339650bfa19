"""Readers that turn files into Documents. Each yields Document or IngestProblem, never raises on bad data."""

from jiansuo.ingest.detect import read_path
from jiansuo.ingest.fields import IngestProblem

__all__ = ["IngestProblem", "read_path"]

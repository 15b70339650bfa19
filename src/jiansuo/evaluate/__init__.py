"""Evaluation: BEIR-layout dataset readers and IR metrics (via ranx)."""

"""Benchmarks (`make bench`) and quality evaluation (`make eval`) for winnow. Not part of the package."""

"""Benchmarks for course_lib (not tests: run them by hand, see benchmarks/README.md)."""

"""Benchmarks, run by `make bench`; each prints its figures and adds them to bench/report.txt."""

"""Helpers shared by the tests and the benchmarks: real servers on loopback, a reader for the app's HTML
pages, media to send. Importable as `support` in the tests (pyproject's pythonpath) and as
`tests.support` from bench/."""

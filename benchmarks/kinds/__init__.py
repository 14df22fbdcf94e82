"""Per-kind benchmark definitions: an example query, a hand-written SQL statement per engine computing the same
numbers, and a straightforward pandas implementation. `benchmarks/analytics.py` runs them all."""

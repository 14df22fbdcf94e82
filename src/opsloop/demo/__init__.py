"""Demo product: deterministic synthetic data for trying opsloop."""

"""Periodic internal audit (定期内部审查): a registry of checks and the reports auditors read.

`registry` holds the checks (a name, a severity, a function returning findings); any context
registers its own with `REGISTRY.register(...)` or the `@check(...)` decorator. `checks` adds
the platform's own (contracts, extension caps, reconciliation, the log, personal-data reads),
`review.run_review` runs them for an `as_of` date, and `report` writes HTML and Excel.
"""

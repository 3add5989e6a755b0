"""The portfolio simulator: synthetic cross-region balloon portfolios and borrower behaviour
driving the real platform through time (issue 5, ADR 0008, README.md in this folder).

- `economy`: GB/T 2260 provinces, cities and counties with NBS 2023 indicators (pure).
- `world`: the generated portfolio as numpy columns, reproducible from a seed (pure).
- `behaviour`: borrower decisions from counter-based random numbers (pure).
- `config`: every parameter with its value and source; champion and challenger presets.
- `runner`: day by day through booking, payments, balloon options, write-offs and end of day.
- `report`: KPIs from the platform's records; paired-bootstrap champion/challenger comparison.
- `export`: Parquet tables, PNG plots and JSON.
"""

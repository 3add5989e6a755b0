"""Risk (风控): application scorecards, the monotone challenger, regional calibration, registry
and monitoring.

Pure: no database, no web framework, no clock. Functions take data frames and arrays and return
frozen values; times (a model's creation) and file paths are arguments. The heavy optbinning
import happens only inside `fit_binning`, so scoring a saved model never loads it. See
`docs/risk.md` and `docs/adr/0007-scorecards.md`.
"""

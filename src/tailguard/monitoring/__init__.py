"""Monitoring: the words of post-loan signals, early-warning rules as data, the alert
lifecycle and the balloon watch.

Everything here is pure: no database, no broker, no clock. Services read signals, loan features
and the current rule set, hand them in, and store what comes out (docs/monitoring.md).
"""

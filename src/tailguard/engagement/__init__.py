"""Engagement: the contact policy (conduct guard), jurisdiction profiles, message templates and
the notification channel port.

Everything here is pure: no database, no network, no clock. Services read the facts (a compact
contact history, opt-outs and consents) and the time, and hand them in.
"""

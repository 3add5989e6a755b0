"""Collections and recovery rules (issue 8), pure: no database, web framework or clock.

Named `recovery` so it never shadows the standard library's `collections`. The services in
`tailguard.services.recovery_*` read and write; everything here is arithmetic and rules over
values and numpy columns, so the end of day can run them over a whole portfolio at once.
"""

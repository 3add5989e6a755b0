"""Origination (贷前): applications, identity and document checks, third-party data, decisions.

The checks here are pure: they take the text an applicant or a dealer typed and return a
normalised value or an `InvalidInput` naming the field, so the same rules serve the API, the
command line, the demo loader and the simulator without any of them touching a database.
"""

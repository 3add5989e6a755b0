"""The `tailguard` command line: an entry point that only translates.

Commands parse text into the pure core's values, call it, and print the result as a table or as
one JSON object (`--json`) for scripts. Bad input never ends in a traceback: every error, ours
or click's own, is one line on stderr naming the option, with exit code 2 (see `cli.errors`).
"""

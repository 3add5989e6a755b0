"""`python -m tailguard.cli`: the same command line as the `tailguard` script."""

from tailguard.cli.main import main

main()

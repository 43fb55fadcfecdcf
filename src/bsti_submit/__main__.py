"""`python -m bsti_submit` runs the command line."""

from .cli import main

main()

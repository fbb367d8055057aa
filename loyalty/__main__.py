"""`python -m loyalty` is the `loyalty` command."""

from loyalty.cli import main

main()

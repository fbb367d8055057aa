"""`python -m lokaal_sparen` is the `loyalty` command."""

from lokaal_sparen.app import main

main()

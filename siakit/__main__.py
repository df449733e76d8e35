"""`python -m siakit` runs the command-line interface."""
from siakit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

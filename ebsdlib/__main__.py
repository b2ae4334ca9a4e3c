"""``python -m ebsdlib``: the command-line interface."""

from ebsdlib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m kinview`` is the same as the ``kinview`` command."""
from kinview.cli.main import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

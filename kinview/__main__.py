"""``python -m kinview`` is the same as the ``kinview`` command."""
from kinview.cli.main import cli

if __name__ == "__main__":  # pragma: no cover
    cli()

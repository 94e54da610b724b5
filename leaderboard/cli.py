"""`audioprobe-leaderboard RESULTS_DIR [-o LEADERBOARD.md]`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from audioprobe.errors import AudioprobeError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the markdown here (default: print it).")
def leaderboard(results_dir, output):
    """Aggregate the result files under RESULTS_DIR into a markdown leaderboard."""
    from audioprobe.leaderboard.build import build

    text = build(results_dir, output)
    click.echo(f"Wrote {output}" if output else text)


def main(argv=None) -> int:
    try:
        leaderboard.main(args=argv, prog_name="audioprobe-leaderboard", standalone_mode=False)
    except AudioprobeError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

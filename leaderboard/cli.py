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
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also draw per-layer score profiles (PNG, one per task) into this folder (needs matplotlib).")
def leaderboard(results_dir, output, plots):
    """Aggregate the result files under RESULTS_DIR into a markdown leaderboard."""
    from audioprobe.leaderboard.build import build, collect

    text = build(results_dir, output)
    click.echo(f"Wrote {output}" if output else text)
    if plots is not None:
        from audioprobe.leaderboard.plots import plot_profiles

        written = plot_profiles(collect(results_dir), plots)
        click.echo(f"Wrote {len(written)} figure(s) to {plots}")


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

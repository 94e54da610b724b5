"""`audioprobe-leaderboard RESULTS_DIR [-o LEADERBOARD.md]` and `audioprobe-compare RESULTS_DIR`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from audioprobe.errors import AudioprobeError, disk_error_exit, shorten


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the markdown here (default: print it).")
@click.option("--report-url", default=None, metavar="URL",
              help="Link each table to this report's section (e.g. report/index.html, written by audioprobe-report).")
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also draw per-layer score profiles (PNG, one per task) into this folder (needs matplotlib).")
def leaderboard(results_dir, output, report_url, plots):
    """Aggregate the result files under RESULTS_DIR into a markdown leaderboard."""
    from audioprobe.leaderboard.build import build, collect

    text = build(results_dir, output, report_url=report_url)
    click.echo(f"Wrote {output}" if output else text)
    if plots is not None:
        from audioprobe.leaderboard.plots import plot_profiles

        written = plot_profiles(collect(results_dir), plots)
        click.echo(f"Wrote {len(written)} figure(s) to {plots}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tasks", default=None, metavar="SPEC", help="Task names or globs, comma-separated (default: all).")
@click.option("--models", default=None, metavar="SPEC", help="Model names or globs, comma-separated (default: all).")
@click.option("--contrasts", "contrast_paths", multiple=True, type=click.Path(path_type=Path),
              help="Extra contrast YAML file or folder (repeatable); the built-in ones are always read.")
@click.option("--alpha", default=0.05, type=click.FloatRange(0, 1, min_open=True, max_open=True), show_default=True,
              help="False discovery rate of the Benjamini-Hochberg correction.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the markdown here (default: print it).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write every number as JSON here.")
def compare_cmd(results_dir, tasks, models, contrast_paths, alpha, output, json_path):
    """Paired comparisons of the models and the contrasts of the result files under RESULTS_DIR."""
    import json

    from audioprobe.files import atomic_write_bytes
    from audioprobe.leaderboard.compare import compare
    from audioprobe.leaderboard.compare_render import render_markdown
    from audioprobe.leaderboard.contrasts import discover_contrasts

    report = compare(results_dir, discover_contrasts(contrast_paths), tasks=tasks, models=models, alpha=alpha)
    text = render_markdown(report)
    if json_path is not None:
        data = json.dumps(report, indent=1, allow_nan=False).encode()
        atomic_write_bytes(json_path, lambda fh: fh.write(data))
    if output is not None:
        atomic_write_bytes(output, lambda fh: fh.write(text.encode()))
        click.echo(f"Wrote {output}")
    else:
        click.echo(text)


class _Warnings(logging.Handler):
    """audioprobe's warnings (e.g. "skipped FILE: why it cannot be read") as plain lines on stderr."""

    def __init__(self, level: int):
        super().__init__(level)
        self.seen: set[str] = set()  # the report reads the files more than once: say each thing once

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.seen:
            self.seen.add(message)
            click.echo(f"warning: {message}", err=True)


def _run(command, prog: str, argv) -> int:
    logger = logging.getLogger("audioprobe")
    handler = _Warnings(logging.WARNING)
    logger.addHandler(handler)
    try:
        command.main(args=argv, prog_name=prog, standalone_mode=False)
    except AudioprobeError as exc:
        click.echo(f"Error: {shorten(exc)}", err=True)
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except OSError as exc:  # a full, read-only or closed disk: one line, not a traceback (anything else: a bug)
        return disk_error_exit(exc)
    finally:
        logger.removeHandler(handler)
    return 0


def compare_main(argv=None) -> int:
    """`audioprobe-compare`: user errors exit 2 with one message."""
    return _run(compare_cmd, "audioprobe-compare", argv)


def report_main(argv=None) -> int:
    """`audioprobe-report RESULTS_DIR -o REPORT_DIR`: user errors exit 2 with one message."""
    from audioprobe.leaderboard.report import report_cmd

    return _run(report_cmd, "audioprobe-report", argv)


def main(argv=None) -> int:
    return _run(leaderboard, "audioprobe-leaderboard", argv)


if __name__ == "__main__":
    sys.exit(main())

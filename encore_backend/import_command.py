"""`encore import FILE`: the progress bar, the summary and the exit status around
`services.feedback_import` (0: every row created or duplicate; 1: some refused; 2: bad file)."""

from __future__ import annotations

from pathlib import Path

import typer
from tqdm import tqdm

from encore_backend.bootstrap import Container
from encore_backend.services.feedback_import import ImportFileError, ImportSummary, import_file

SHOWN_REFUSALS = 20


def run_import(
    ctx: Container,
    path: Path,
    *,
    fmt: str | None,
    venue: str | None,
    batch_size: int,
    detect_alerts: bool,
    progress: bool = True,
) -> int:
    """Import `path`, print the summary; the exit status."""
    if not path.is_file():
        typer.echo(f"FILE: {path} is not a readable file", err=True)
        return 2
    size = path.stat().st_size
    with tqdm(total=size, unit="B", unit_scale=True, desc="import", disable=not progress) as bar:
        try:
            summary = import_file(
                ctx,
                path,
                fmt=fmt,
                venue=venue,
                batch_size=batch_size,
                detect_alerts=detect_alerts,
                progress=lambda done: bar.update(done - bar.n),
            )
        except ImportFileError as exc:
            typer.echo(str(exc), err=True)
            return 2
    report(summary)
    return 1 if summary.refused else 0


def report(summary: ImportSummary) -> None:
    """Counts, then the first refused rows with their line numbers and field errors."""
    refused = len(summary.refused)
    typer.echo(
        f"{summary.rows} rows: {summary.created} created, {summary.duplicate} duplicate, "
        f"{refused} refused"
    )
    for line, field, message in summary.refused[:SHOWN_REFUSALS]:
        typer.echo(f"  line {line}: {field or '(row)'}: {message}")
    if refused > SHOWN_REFUSALS:
        typer.echo(f"  … and {refused - SHOWN_REFUSALS} more refused rows")

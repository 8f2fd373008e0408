"""`encore import`: feedback from a JSON Lines or CSV file, in batches through `ingest_batch`.

Every row passes the rules of POST /api/feedback; a bad row is counted and reported with its
line number and never stops the import. Rerun-safe: a row's `external_id` (given, or derived
from the row's content and how often that content occurred before in the file) makes a second
import of the same rows create nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from encore_backend.api.schemas.feedback import FeedbackCreate
from encore_backend.bootstrap import Container
from encore_backend.services.alert_signal import run_detector
from encore_backend.services.errors import FieldError
from encore_backend.services.feedback_batch import (
    ItemStatus,
    created_ids,
    ingest_batch,
    parse_item,
    parse_json,
)

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
CSV_COLUMNS = {
    "venue_id": ("venue_id",),
    "rating": ("rating",),
    "comment": ("comment",),
    "created_at": ("created_at",),
    "external_id": ("external_id",),
    "customer_email": ("customer", "email"),
    "customer_name": ("customer", "name"),
    "customer_lifetime_value": ("customer", "lifetime_value"),
    "customer_tier": ("customer", "tier"),
}
CSV_FIELDS = {".".join(path): column for column, path in CSV_COLUMNS.items()}
DEFAULT_BATCH = 2000


class ImportFileError(Exception):
    """The file (or an option) cannot be imported at all: unknown format, unknown columns."""


@dataclass(frozen=True)
class Row:
    """One record of the file: its first line number, and its item or why it is refused."""

    line: int
    item: FeedbackCreate | FieldError


@dataclass
class ImportSummary:
    """Counts per outcome, and every refused row as (line, field, message)."""

    created: int = 0
    duplicate: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.created + self.duplicate + len(self.refused)


def file_format(path: Path, given: str | None) -> str:
    """`jsonl` or `csv`: the --format option, else the file's extension."""
    fmt = given or FORMATS.get(path.suffix.lower())
    if fmt not in ("jsonl", "csv"):
        raise ImportFileError(
            f"{path.name}: unknown format; name it .jsonl/.json or .csv, or pass --format"
        )
    return fmt


def import_file(
    ctx: Container,
    path: Path,
    *,
    fmt: str | None = None,
    venue: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    detect_alerts: bool = False,
    progress: Callable[[int], None] = lambda _bytes: None,
) -> ImportSummary:
    """Import every row of `path` in batches of `batch_size` (one transaction each);
    `progress` gets the bytes read after each batch. Alerts: the periodic alert_detector scan
    finds the new rows (unscanned), or `detect_alerts` runs it on each batch (slower)."""
    summary = ImportSummary()
    with path.open("rb") as handle:
        rows = read_rows(handle, file_format(path, fmt), venue)
        for batch in batches(rows, batch_size):
            _ingest(ctx, batch, summary, detect_alerts=detect_alerts)
            progress(handle.tell())
    return summary


def _ingest(
    ctx: Container, batch: list[Row], summary: ImportSummary, *, detect_alerts: bool
) -> None:
    results = ingest_batch(ctx, [r.item for r in batch])
    for row, result in zip(batch, results, strict=True):
        if result.status == ItemStatus.CREATED:
            summary.created += 1
        elif result.status == ItemStatus.DUPLICATE:
            summary.duplicate += 1
        else:
            assert result.error is not None
            summary.refused.append((row.line, result.error.field, result.error.message))
    if detect_alerts and (ids := created_ids(results)):
        run_detector(ctx, ids)


def batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_rows(handle: BinaryIO, fmt: str, venue: str | None) -> Iterator[Row]:
    """The file's records as checked items, with derived external_ids where none is given."""
    seen: Counter[bytes] = Counter()
    raw = _jsonl(handle, venue) if fmt == "jsonl" else _csv(handle, venue)
    for line, content, item in raw:
        if isinstance(item, FeedbackCreate) and item.external_id is None:
            seen[content] += 1
            item.external_id = derived_external_id(content, seen[content])
        yield Row(line, item)


def derived_external_id(content: bytes, occurrence: int) -> str:
    """`import:<sha1 of the row>:<n>` for the n-th row of that content in the file: a rerun
    finds it again, and two identical rows stay two feedback."""
    return f"import:{hashlib.sha1(content).hexdigest()}:{occurrence}"


def _jsonl(
    handle: BinaryIO, venue: str | None
) -> Iterator[tuple[int, bytes, FeedbackCreate | FieldError]]:
    for number, line in enumerate(handle, start=1):
        content = line.strip()
        if not content:
            continue
        yield number, content, _json_item(content, venue)


def _json_item(content: bytes, venue: str | None) -> FeedbackCreate | FieldError:
    if venue is None:
        return parse_json(content)
    try:
        doc = json.loads(content)
    except ValueError as exc:
        return FieldError("", f"Invalid JSON: {exc}")
    if isinstance(doc, dict):
        doc.setdefault("venue_id", venue)
    return parse_item(doc)


def _csv(
    handle: BinaryIO, venue: str | None
) -> Iterator[tuple[int, bytes, FeedbackCreate | FieldError]]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        yield from _csv_records(csv.reader(text), venue)
    finally:
        text.detach()  # the caller's file stays open (it reads the position for progress)


def _csv_records(
    reader: Any, venue: str | None
) -> Iterator[tuple[int, bytes, FeedbackCreate | FieldError]]:
    header = next(reader, None)
    if header is None:
        return
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ImportFileError(
            f"unknown CSV column(s) {', '.join(map(repr, unknown))}; "
            f"the columns are {', '.join(CSV_COLUMNS)}"
        )
    start = reader.line_num + 1
    for record in reader:
        line, start = start, reader.line_num + 1
        if not any(record):
            continue
        content = "\x1f".join(record).encode()
        yield line, content, _csv_item(dict(zip(header, record, strict=False)), venue)


def _csv_item(cells: dict[str, str], venue: str | None) -> FeedbackCreate | FieldError:
    """A CSV record in the POST /api/feedback shape: empty cells are absent, a whole-number
    rating is a number (the schema takes JSON types), field errors name the CSV column."""
    doc: dict[str, Any] = {}
    for column, value in cells.items():
        if value == "":
            continue
        *parents, name = CSV_COLUMNS[column]
        target = doc.setdefault(parents[0], {}) if parents else doc
        target[name] = int(value) if column == "rating" and value.strip().isdigit() else value
    if venue is not None:
        doc.setdefault("venue_id", venue)
    item = parse_item(doc)
    if isinstance(item, FieldError):
        return FieldError(CSV_FIELDS.get(item.field, item.field), item.message)
    return item

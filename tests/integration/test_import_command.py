"""`encore import FILE`: JSON Lines and CSV, bad rows reported by line number without stopping
the import, reruns that create nothing, alerts without manager mail for old feedback, and a
100,000-row file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import count_rows
from factories import make_venue
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from encore_backend.bootstrap import Container
from encore_backend.cli import app as cli_app
from encore_backend.clock import ManualClock, iso_z
from encore_backend.scheduler.jobs import alert_detector
from encore_backend.services.feedback_import import import_file
from encore_backend.storage.sql import models as m


@pytest.fixture
def venues(ctx: Container, engine: Engine) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    make_venue(engine, "b", now=ctx.clock.now())


def jsonl(tmp_path: Path, rows: list[Any], name: str = "rows.jsonl") -> Path:
    path = tmp_path / name
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("ENCORE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner().invoke(cli_app, ["import", *args])


def test_jsonl_with_bad_rows_reports_their_lines_and_imports_the_rest(
    ctx: Container, engine: Engine, venues: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = jsonl(
        tmp_path,
        [
            {"venue_id": "a", "rating": 5, "comment": "lovely", "external_id": "e1"},
            {"venue_id": "a", "rating": 7},
            "{not json",
            "",
            {"rating": 2, "comment": "cold", "customer": {"email": "Bo@Guest.Example"}},
            {"venue_id": "b", "rating": 3, "customer": {"email": "nope"}},
            {"venue_id": "a", "rating": 4, "external_id": "e1"},
        ],
    )
    result = cli(engine, monkeypatch, str(path), "--venue", "b")
    assert result.exit_code == 1, result.output
    assert "6 rows: 2 created, 1 duplicate, 3 refused" in result.stdout
    assert "line 2: rating: Input should be less than or equal to 5" in result.stdout
    assert "line 3: (row): Invalid JSON" in result.stdout
    assert "line 6: customer.email: Value error, is not a valid email address" in result.stdout
    assert count_rows(engine, m.feedback) == 2
    with engine.connect() as conn:
        venue_of = dict(conn.execute(select(m.feedback.c.rating, m.feedback.c.venue_id)).all())
    assert venue_of == {5: "a", 2: "b"}  # --venue is the default, not an override


def test_a_rerun_creates_nothing_new(
    ctx: Container, engine: Engine, venues: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows without an external_id get one derived from their content: two identical rows stay
    two feedback, and the second import finds all of them."""
    same = {"venue_id": "a", "rating": 4, "comment": "same words"}
    path = jsonl(tmp_path, [same, same, {"venue_id": "a", "rating": 1, "external_id": "k"}])
    first = cli(engine, monkeypatch, str(path))
    assert first.exit_code == 0 and "3 created, 0 duplicate, 0 refused" in first.stdout
    again = cli(engine, monkeypatch, str(path), "--batch-size", "1")
    assert again.exit_code == 0 and "0 created, 3 duplicate, 0 refused" in again.stdout
    assert count_rows(engine, m.feedback) == 3


HEADER = "venue_id,rating,comment,created_at,external_id,"
HEADER += "customer_email,customer_name,customer_lifetime_value,customer_tier\n"
CSV = (
    HEADER
    + """a,5,"Lovely, and the ""soup""
was hot",2026-03-01T10:00:00Z,c1,ann@guest.example,Ann,1500.50,Gold
,2,cold,,c2,,,,
a,five,bad rating,,c3,,,,
a,3,bad money,,c4,x@guest.example,,lots,
"""
)


def test_csv_columns_multiline_cells_and_errors_named_by_column(
    ctx: Container, engine: Engine, venues: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(CSV)
    result = cli(engine, monkeypatch, str(path), "--venue", "b")
    assert result.exit_code == 1, result.output
    assert "4 rows: 2 created, 0 duplicate, 2 refused" in result.stdout
    assert "line 5: rating: Input should be a valid integer" in result.stdout
    assert "line 6: customer_lifetime_value: " in result.stdout
    with engine.connect() as conn:
        row = conn.execute(select(m.feedback).where(m.feedback.c.external_id == "c1")).one()
    fetched = ctx.feedback.get(row.feedback_id)
    assert fetched is not None and fetched["comment"] == 'Lovely, and the "soup"\nwas hot'
    assert (fetched["email"], fetched["tier"], float(fetched["lifetime_value"])) == (
        "ann@guest.example",
        "gold",
        1500.5,
    )
    again = cli(engine, monkeypatch, str(path), "--venue", "b")
    assert "0 created, 2 duplicate, 2 refused" in again.stdout


def test_bad_files_and_options_exit_2(
    engine: Engine, venues: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rows.txt").write_text("{}\n")
    (tmp_path / "cols.csv").write_text("venue_id,stars\na,5\n")
    cases = [
        ([str(tmp_path / "missing.jsonl")], "not a readable file"),
        ([str(tmp_path / "rows.txt")], "unknown format"),
        ([str(tmp_path / "cols.csv")], "unknown CSV column(s) 'stars'"),
        ([str(tmp_path / "rows.txt"), "--format", "xml"], "--format: must be jsonl or csv"),
    ]
    for args, message in cases:
        result = cli(engine, monkeypatch, *args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert count_rows(engine, m.feedback) == 0


@pytest.mark.parametrize("per_batch", [True, False])
def test_imported_history_raises_alerts_but_mails_only_for_recent_feedback(
    ctx: Container,
    engine: Engine,
    venues: None,
    tmp_path: Path,
    clock: ManualClock,
    per_batch: bool,
) -> None:
    """Alerts come from the detector run on each batch (--alerts), or else from the periodic
    scan; either way only the feedback under a day old mails the manager."""
    now = clock.now()
    rows = [
        {"venue_id": "a", "rating": 2, "comment": "I was sick", "created_at": iso_z(at)}
        for at in (now - timedelta(days=30), now - timedelta(hours=2))
    ]
    summary = import_file(ctx, jsonl(tmp_path, rows), detect_alerts=per_batch)
    assert summary.created == 2
    if not per_batch:
        assert count_rows(engine, m.alerts) == 0
        alert_detector.run(ctx, clock.advance(minutes=5))
    with engine.connect() as conn:
        levels = conn.execute(select(m.alerts.c.level)).scalars().all()
        mails = conn.execute(select(m.email_queue.c.kind, m.email_queue.c.alert_id)).all()
    assert levels == ["critical", "critical"]
    assert len(mails) == 1 and mails[0].kind == "alert"  # the recent one only (one manager)


@pytest.mark.slow
def test_a_100000_row_file(ctx: Container, engine: Engine, venues: None, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w") as out:
        for i in range(100_000):
            doc = {"venue_id": "ab"[i % 2], "rating": 1 + i % 5, "comment": f"visit {i}"}
            if i % 3:
                doc["customer"] = {"email": f"guest{i % 5000}@example.com"}
            out.write(json.dumps(doc) + "\n")
    summary = import_file(ctx, path, detect_alerts=False)
    assert (summary.created, summary.duplicate, summary.refused) == (100_000, 0, [])
    assert count_rows(engine, m.feedback) == 100_000
    assert count_rows(engine, m.customers) == 5000

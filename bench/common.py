"""What every benchmark shares: its command line and its results file (bench/results/)."""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def bench_parser(doc: str, *, runs: bool = True, backends: bool = True) -> argparse.ArgumentParser:
    """--quick (and --backends, --runs) for a benchmark described by its module docstring."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small scale smoke run")
    if backends:
        parser.add_argument("--backends", default="sqlite,mariadb,postgresql")
    if runs:
        parser.add_argument("--runs", type=int, help="override the number of runs")
    return parser


def backends(value: str) -> list[str]:
    """'sqlite,mariadb' → ['sqlite', 'mariadb'] (blanks dropped)."""
    return [b for b in value.split(",") if b]


def save_results(name: str, payload: dict[str, Any]) -> Path:
    """bench/results/<name>.json: the payload with the machine it ran on."""
    RESULTS.mkdir(exist_ok=True)
    machine = {"python": platform.python_version(), "platform": platform.platform()}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine, **payload}, indent=2, default=str))
    return path

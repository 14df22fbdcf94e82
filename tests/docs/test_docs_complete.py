"""Documentation stays complete: every setting and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import typer.main

from opsloop.cli.main import app
from opsloop.config import Settings
from opsloop.query.registry import QUERY_KINDS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [f"OPSLOOP_{name.upper()}" for name in Settings.model_fields if f"`OPSLOOP_{name.upper()}`" not in text]
    assert not missing, f"undocumented settings: {missing}"
    assert all(field.description for field in Settings.model_fields.values()), "every setting needs a description"


def test_every_cli_command_is_in_cli_md() -> None:
    text = (DOCS / "cli.md").read_text()
    group = typer.main.get_group(app)
    names: list[str] = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        names += [f"opsloop {name} {s}" for s in sub] if sub else [f"opsloop {name}"]
    missing = [n for n in names if f"`{n}" not in text]
    assert not missing, f"undocumented commands: {missing}"


def test_every_query_kind_is_in_metrics_md() -> None:
    headings = [line for line in (DOCS / "metrics.md").read_text().splitlines() if line.startswith("## ")]
    missing = [kind for kind in QUERY_KINDS if kind != "sql" and not any(f"`{kind}`" in h for h in headings)]
    assert not missing, f"query kinds without a section in docs/metrics.md: {missing}"

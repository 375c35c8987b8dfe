"""Every command has help with an Example, and is documented in the README (CONVENTIONS §14)."""

from pathlib import Path

import pytest
import typer.main

from routewatch.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(typer.main.get_command(app).commands)


def test_commands_exist():
    for name in ("demo", "run", "crawl", "fetch", "transcribe", "extract", "index", "search", "annotate",
                 "transcribe-file", "status", "eval", "trends"):
        assert name in COMMANDS


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_with_example(name):
    cmd = typer.main.get_command(app).commands[name]
    assert cmd.help and "Example: routewatch " + name in cmd.help


@pytest.mark.parametrize("name", COMMANDS)
def test_command_in_readme(name):
    assert f"`routewatch {name}" in README


@pytest.mark.parametrize("name", COMMANDS)
def test_command_accepts_data_dir(name):
    cmd = typer.main.get_command(app).commands[name]
    assert any("--data-dir" in p.opts for p in cmd.params)

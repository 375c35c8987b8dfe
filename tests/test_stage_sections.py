"""Stages receive their own settings section, typed: no stage function takes the whole settings as `Any`."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("crawlers", "transcribe", "ocr", "nlp", "index")
NAMES = {"rw", "settings", "cfg", "crawl"}


def _loose_parameters(root: Path = REPO) -> list[str]:
    found = []
    for pkg in STAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                a = node.args
                for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs):
                    loose = arg.annotation is None or ast.unparse(arg.annotation) in ("Any", "typing.Any")
                    if arg.arg in NAMES and loose:
                        found.append(f"{path.relative_to(root)}:{node.lineno} {node.name}({arg.arg})")
    return found


def test_no_stage_function_takes_settings_as_any():
    assert _loose_parameters() == []


def test_the_check_sees_a_loose_parameter(tmp_path):
    pkg = tmp_path / "crawlers"
    pkg.mkdir()
    (pkg / "x.py").write_text("from typing import Any\n\ndef run(rw: Any) -> None:\n    pass\n", encoding="utf-8")
    for other in STAGES[1:]:
        (tmp_path / other).mkdir()
    assert _loose_parameters(tmp_path) == ["crawlers/x.py:3 run(rw)"]

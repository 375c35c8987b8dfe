"""The import layers of issue 13 (surfaces -> stages -> core), as `make lint` checks them.

In: the source tree and the `[tool.importlinter]` contract in pyproject.toml.  Out: the contract holds, it
covers every routewatch module, and it does fail on a back-arrow (checked on a copy of the tree).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("routewatch", "crawlers", "transcribe", "ocr", "nlp", "index")
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
        "sys.exit(c(['--no-logo', '--no-cache']))"]


def _layers() -> list[list[str]]:
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = cfg["contracts"]
    return [[m.strip() for m in layer.replace("|", ":").split(":")] for layer in contract["layers"]]


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(LINT, cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_every_routewatch_module_is_in_a_layer() -> None:
    named = {m for layer in _layers() for m in layer}
    modules = {f"routewatch.{p.stem}" for p in (REPO / "routewatch").glob("*.py") if p.stem != "__init__"}
    modules |= {f"routewatch.{p.name}" for p in (REPO / "routewatch").iterdir() if (p / "__init__.py").exists()}
    assert sorted(modules - named) == [], "add these modules to a layer in pyproject.toml [tool.importlinter]"
    assert sorted(named - modules - set(PACKAGES[1:])) == [], "the contract names modules that do not exist"


def test_stages_are_the_middle_layer_and_independent() -> None:
    layers = _layers()
    assert len(layers) == 3
    assert sorted(layers[1]) == sorted(PACKAGES[1:])
    contract = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert "|" in contract["contracts"][0]["layers"][1], "stages must be independent siblings (|), not (:)"


def test_the_tree_keeps_the_contract() -> None:
    cp = _lint(REPO)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-2000:]
    assert "1 kept, 0 broken" in cp.stdout


def _copy_tree(dst: Path) -> None:
    keep = shutil.ignore_patterns("*.pyc", "__pycache__", "corpus", "media", "static", "templates", "packs")
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, dst / pkg, ignore=keep)
    shutil.copy(REPO / "pyproject.toml", dst / "pyproject.toml")


def test_a_back_arrow_breaks_the_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    assert _lint(tmp_path).returncode == 0  # the copy keeps it, as the tree does
    # a stage reaching up into a surface
    (tmp_path / "crawlers" / "base.py").open("a", encoding="utf-8").write("\nimport routewatch.pipeline  # noqa\n")
    cp = _lint(tmp_path)
    assert cp.returncode != 0 and "crawlers.base -> routewatch.pipeline" in cp.stdout, cp.stdout[-2000:]


def test_one_stage_importing_another_breaks_the_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    (tmp_path / "index" / "base.py").open("a", encoding="utf-8").write("\nimport transcribe.audio  # noqa\n")
    cp = _lint(tmp_path)
    assert cp.returncode != 0 and "index.base -> transcribe.audio" in cp.stdout, cp.stdout[-2000:]


def test_core_importing_a_stage_breaks_the_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    (tmp_path / "routewatch" / "records.py").open("a", encoding="utf-8").write("\nimport nlp.text  # noqa\n")
    cp = _lint(tmp_path)
    assert cp.returncode != 0 and "routewatch.records -> nlp.text" in cp.stdout, cp.stdout[-2000:]


# ---- the catalog as the only door to the data ---------------------------------------------------------------
SQL_CALL = re.compile(r"\.(execute|executemany|executescript)\(")
SQL_HOMES = {"routewatch/catalog.py", "routewatch/catalog_reports.py",  # the catalog and its read mixins
             "index/sqlite_fts.py"}  # the SQLite index's own FTS tables
# Modules that still run SQL themselves, with how many calls they had when this list was written. Issue 13
# moves each behind a named catalog read method; the counts may only fall, and no other module may start.
NOT_YET_MOVED = {
    "routewatch/web/queries.py": 16, "routewatch/web/app.py": 9,
}


def test_sql_runs_only_in_the_catalog_or_in_a_shrinking_list() -> None:
    calls = {}
    for pkg in PACKAGES:
        for f in sorted((REPO / pkg).rglob("*.py")):
            rel = f.relative_to(REPO).as_posix()
            n = len(SQL_CALL.findall(f.read_text(encoding="utf-8")))
            if n and rel not in SQL_HOMES:
                calls[rel] = n
    grown = {f: (n, NOT_YET_MOVED.get(f, 0)) for f, n in calls.items() if n > NOT_YET_MOVED.get(f, 0)}
    assert grown == {}, ("SQL outside the catalog (file: (calls now, allowed)); add a named read/write method to "
                         f"routewatch/catalog.py instead: {grown}")


# ---- one concept, one implementation ------------------------------------------------------------------------
ONE_HOME = {  # what may be defined only once, and where
    r"^def to_simplified\(": "routewatch/core/text.py",
    r"OpenCC\(": "routewatch/core/text.py",
    r"^def (fold|has_cjk|is_han)\(": "routewatch/core/text.py",
    r"\\u3400-": "routewatch/core/text.py",  # the CJK / Han character classes
}


def test_text_rules_are_defined_once_in_core() -> None:
    found = []
    for pkg in PACKAGES:
        for f in sorted((REPO / pkg).rglob("*.py")):
            rel = f.relative_to(REPO).as_posix()
            src = f.read_text(encoding="utf-8")
            found += [(pat, rel) for pat, home in ONE_HOME.items() if rel != home and re.search(pat, src, re.M)]
    assert found == [], f"defined again outside routewatch/core/text.py: {found}"


def test_every_stage_folds_chinese_the_same_way() -> None:
    import index.sqlite_fts
    import nlp.text
    import transcribe.normalise
    from routewatch.core import text

    assert nlp.text.to_simplified is text.to_simplified is transcribe.normalise.to_simplified
    assert index.sqlite_fts.to_simplified is text.to_simplified
    # length kept even where OpenCC's phrase table would change it, so spans found on the output hold
    for s in ("乾隆皇帝", "頭髮", "於是走線", "hola 走線 Darién", "", "ＡＢＣ"):
        assert len(text.to_simplified(s)) == len(s)
    assert text.to_simplified("走線到墨西哥") == "走线到墨西哥"
    assert text.fold("Darién ＤＡＲＩＥＮ 走線") == "darien darien 走线"


def test_platforms_are_listed_once() -> None:
    """Hosts, id patterns and yt-dlp names of the platforms live in routewatch/core/platforms.py; a module that
    lists three platform names in a row is keeping a list of its own (bench: the synthetic corpus's mix)."""
    name = '"(?:telegram|youtube|tiktok|douyin|bilibili|kuaishou|x)"'
    listing = re.compile(rf"{name}\s*,\s*{name}\s*,\s*{name}")  # three names in a row: a list of platforms
    own = []
    for pkg in PACKAGES:
        for f in sorted((REPO / pkg).rglob("*.py")):
            rel = f.relative_to(REPO).as_posix()
            if rel in ("routewatch/core/platforms.py", "routewatch/bench/synthetic.py"):
                continue
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if listing.search(line):
                    own.append(f"{rel}:{i}")
    assert own == [], f"platform lists outside routewatch/core/platforms.py: {own}"


def _sources_matching(pattern: re.Pattern[str], home: str) -> list[str]:
    """The source files of the packages, other than `home`, in which `pattern` occurs."""
    return [f.relative_to(REPO).as_posix() for pkg in PACKAGES for f in sorted((REPO / pkg).rglob("*.py"))
            if f.relative_to(REPO).as_posix() != home and pattern.search(f.read_text(encoding="utf-8"))]


def test_near_duplicates_are_defined_once_in_core() -> None:
    """Trace's groups and the post page's related posts share routewatch/core/similar.py (no second shingling,
    MinHash or Jaccard of their own)."""
    found = _sources_matching(re.compile(r"^\s*def \w*(shingle|minhash|jaccard)\w*\(", re.M | re.I),
                              "routewatch/core/similar.py")
    assert found == [], f"near-duplicate similarity defined outside routewatch/core/similar.py: {found}"


def test_the_default_pack_is_named_once() -> None:
    """The default corridor pack's name is written only in routewatch/core/packs.py (DEFAULT_PACK); the corridor's
    vocabularies outside the extractor (trace concepts and stance cues, trend terms, ASR prompt terms) are files
    of that pack, not of the modules that read them."""
    found = _sources_matching(re.compile(r"""["']zouxian["']"""), "routewatch/core/packs.py")
    assert found == [], f"the default pack named outside routewatch/core/packs.py: {found}"
    from routewatch.core.packs import DEFAULT_PACK, pack_file

    for key in ("trace_terms", "trace_stance", "trend_terms", "asr_prompt"):
        assert pack_file(key).parent.name == DEFAULT_PACK
    assert sorted(p.name for p in REPO.glob("*/*.yaml") if p.parent.name in PACKAGES) == []  # no vocabulary beside code

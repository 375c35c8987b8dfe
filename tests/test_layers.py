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
    (tmp_path / "routewatch" / "core" / "records.py").open("a", encoding="utf-8").write("\nimport nlp.text  # noqa\n")
    cp = _lint(tmp_path)
    assert cp.returncode != 0 and "routewatch.core.records -> nlp.text" in cp.stdout, cp.stdout[-2000:]


# ---- the catalog as the only door to the data ---------------------------------------------------------------
SQL_CALL = re.compile(r"\.(execute|executemany|executescript)\(")
SQL_HOMES = {"routewatch/core/catalog.py", "routewatch/core/catalog_web.py", "routewatch/core/catalog_reports.py",  # the catalog
             "index/sqlite_fts.py",  # the SQLite index's own FTS tables
             "routewatch/core/pgdb.py", "routewatch/core/catalog_copy.py",  # its PostgreSQL adapter; migrate-catalog
             "routewatch/core/politeness.py"}  # the per-domain budget's own two tables (workers' state, not data)
# Modules that still run SQL themselves: none since issue 13 (a module that starts fails the test below).
NOT_YET_MOVED: dict[str, int] = {
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
                         f"routewatch/core/catalog.py instead: {grown}")


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


# ---- the import graph, function-level imports included (issue 13: no import kept only to dodge a cycle) -----
# import-linter reads module-level and function-level imports alike, but layers allow cycles inside a layer and
# inside a package; this section reads the whole graph with `ast` and wants no cycle at all.
STARTUP_SURFACES = ("routewatch.cli", "routewatch.web", "routewatch.bench", "routewatch.demo", "routewatch.pipeline",
                    "routewatch.__main__")  # they import a stage on first use, to keep `routewatch --help` quick
# Cycles still in the tree. Only the crawlers' registry is left: helper h13stage (issue 13) removes it, and then
# this set becomes empty.
CYCLES_LEFT: list[set[str]] = []  # none: a new cycle fails the test below
# Function-level imports of project modules outside the surfaces above, each with why it is not at the top.
LATE_IMPORTS = {
    ("index.build", "index.elastic"): "the Elasticsearch client costs 0.4-0.9 s to import; loaded when configured",
    ("nlp", "nlp.registry"): "spaCy (and thinc, torch) load only when an extractor is built, not on `import nlp`",
}


def _module_files(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    out = {}
    for pkg in packages:
        for f in (root / pkg).rglob("*.py"):
            parts = list(f.relative_to(root).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(modules: dict[str, Path]) -> list[tuple[str, str, bool]]:
    """(importer, imported project module, inside a function) for every import statement; a package's
    submodule importing the package itself is left out (Python imports the package first anyway)."""
    import ast

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    found = set()
    for mod, path in modules.items():
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]

        def walk(node: ast.AST, in_function: bool, mod: str = mod, here: list[str] = here) -> None:
            for child in ast.iter_child_nodes(node):
                late = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                names: list[str] = []
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = ".".join(here[: len(here) - child.level + 1] + [child.module or ""]) if child.level \
                        else child.module or ""
                    names = [f"{base.rstrip('.')}.{a.name}" for a in child.names]  # a submodule, or a name in base
                for name in names:
                    target = resolve(name)
                    if target and target != mod and not mod.startswith(target + "."):
                        found.add((mod, target, late))
                walk(child, late)

        walk(ast.parse(path.read_text(encoding="utf-8")), False)
    return sorted(found)


def _cycles(edges: list[tuple[str, str, bool]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for a, b, _late in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(comp)
    return out


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import() -> None:
    edges = [("a", "b", False), ("b", "c", True), ("c", "a", False), ("c", "d", False), ("d", "d2", True)]
    assert _cycles(edges) == [{"a", "b", "c"}]
    assert _cycles(edges[:2] + edges[3:]) == []


def test_the_graph_reads_function_level_and_relative_imports(tmp_path: Path) -> None:
    files = {"p/__init__.py": "from . import a\n", "p/a.py": "import os\nfrom p.b import thing\n",
             "p/b.py": "import p\n\ndef f():\n    from .c import g\n    return g\n",
             "p/c.py": "from . import a as _a\nfrom p import b  # noqa\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    edges = _imports(_module_files(tmp_path, ("p",)))
    # third-party left out, a name resolved to its module, a child importing its package left out
    assert edges == [("p", "p.a", False), ("p.a", "p.b", False), ("p.b", "p.c", True), ("p.c", "p.a", False),
                     ("p.c", "p.b", False)]
    assert _cycles(edges) == [{"p.a", "p.b", "p.c"}]
    assert len(_imports(_module_files())) > 400  # the tree itself is read


def test_no_import_cycle_even_through_function_level_imports() -> None:
    cycles = _cycles(_imports(_module_files()))
    assert [c for c in cycles if c not in CYCLES_LEFT] == [], "import cycles (put the shared part lower down)"


def test_function_level_project_imports_only_in_startup_surfaces() -> None:
    def allowed(mod: str, target: str) -> bool:
        return any(m == mod and (t == target or (t.endswith(".*") and target.startswith(t[:-1])))
                   for m, t in LATE_IMPORTS)

    late = sorted((a, b) for a, b, fn in _imports(_module_files())
                  if fn and not a.startswith(tuple(s + "." for s in STARTUP_SURFACES)) and a not in STARTUP_SURFACES
                  and not allowed(a, b))
    assert late == [], "hoist these imports to the top of the module, or add the reason to LATE_IMPORTS"


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

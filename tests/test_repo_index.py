"""repo_index on a small repository built here: several languages, broken and odd files, a cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from patchsmith.repo_index import (
    IndexSettings,
    RepoIndexError,
    build_index,
    definition_source,
    estimate_tokens,
    file_skeleton,
    line_snippets,
    read_text,
    tree_view,
)
from patchsmith.repo_index.walk import blob_id_of

MODELS_PY = '''"""Models of the fixture."""
import os
from collections import OrderedDict as OD
from .base import Base

LIMIT = 10
TABLE = {
    "alpha": 1,
    "beta": 2,
}


def plain(x):
    return x + LIMIT


@register
@other(1)
class Invoice(Base):
    """An invoice.

    With more words.
    """

    currency = "EUR"

    def total(self, lines,
              tax=0):
        \'\'\'Sum of the lines.\'\'\'
        def helper(line):
            return line.amount
        return sum(helper(l) for l in lines) * (1 + tax)

    @property
    def label(self):
        # a comment before the body
        return os.path.join("invoice", self.currency)
'''

BROKEN_PY = """def before(:
    pass

def after_error(y):
    return y
"""

APP_JS = """import { thing } from './thing.js';
const fmt = require('util');

export class Cart {
  add(item) {
    this.items.push(item);
  }
}

function checkout(cart) {
  return cart.items.length;
}

const shipping = (cart) => 5;
"""

TYPES_TS = """interface Shape {
  area(): number;
}

class Circle implements Shape {
  constructor(private r: number) {}
  area(): number {
    return 3.14 * this.r * this.r;
  }
}

export function unit(): Circle {
  return new Circle(1);
}
"""

MAIN_GO = """package main

import "fmt"

type Server struct {
\tport int
}

func (s *Server) Start() error {
\treturn nil
}

func main() {
\tfmt.Println("hi")
}
"""

MAIN_JAVA = """import java.util.List;

public class Greeter {
    private final String name;

    public Greeter(String name) {
        this.name = name;
    }

    public String greet() {
        return "Hello " + name;
    }
}
"""

LIB_RS = """use std::fmt;

pub struct Point {
    x: i32,
}

impl Point {
    pub fn norm(&self) -> i32 {
        self.x.abs()
    }
}

pub trait Shape {
    fn area(&self) -> f64;
}

fn helper() {}
"""

BIG_FUNCTIONS = 25_000  # two lines each: a 50,000-line file


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> dict:
    """The fixture repository: two commits, then untracked and ignored files in its working tree."""
    base = tmp_path_factory.mktemp("repo_index")
    root = base / "repo"
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def secret():\n    pass\n")
    files = {
        "pkg/__init__.py": "",
        "pkg/models.py": MODELS_PY,
        "pkg/broken.py": BROKEN_PY,
        "pkg/empty.py": "",
        "web/app.js": APP_JS,
        "web/types.ts": TYPES_TS,
        "cmd/main.go": MAIN_GO,
        "src/Greeter.java": MAIN_JAVA,
        "src/lib.rs": LIB_RS,
        "README.md": "# Fixture\n",
        ".gitignore": "build/\n",
        "node_modules/dep/index.js": "function vendored() {}\n",
        "big.py": "".join(f"def f_{i}(a):\n    return a + {i}\n" for i in range(BIG_FUNCTIONS)),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "pkg/latin1.py").write_bytes(b"# caf\xe9\ndef caf\xc3():\n    return '\xe9'\n\ndef ok():\n    pass\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))  # binary by name
    (root / "data.dat").write_bytes(b"header\x00" + bytes(range(256)))  # binary by its bytes only
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first")
    first = _git(root, "rev-parse", "HEAD")
    (root / "pkg/models.py").write_text(MODELS_PY.replace("def plain(x):", "def plain_renamed(x):"))
    _git(root, "commit", "-q", "-am", "second")
    second = _git(root, "rev-parse", "HEAD")
    # Working-tree only: an untracked file, an ignored folder, links in and out of the tree.
    (root / "pkg/untracked.py").write_text("def fresh():\n    pass\n")
    (root / "build").mkdir()
    (root / "build/generated.py").write_text("def generated():\n    pass\n")
    os.symlink(outside / "secret.py", root / "pkg/link_out.py")
    os.symlink(outside, root / "linked_dir")
    return {"root": root, "first": first, "second": second, "base": base}


@pytest.fixture(scope="module")
def index(repo):
    return build_index(repo["root"])


def _defs(index, path):
    return {d.qualname: d for d in index.files[path].definitions}


def test_python_definitions_with_qualified_names_spans_signatures_and_docs(index):
    defs = _defs(index, "pkg/models.py")
    assert [d.qualname for d in index.files["pkg/models.py"].definitions] == [
        "LIMIT", "TABLE", "plain_renamed", "Invoice", "Invoice.total", "Invoice.total.helper", "Invoice.label",
    ]
    invoice = defs["Invoice"]
    assert (invoice.kind, invoice.start, invoice.end) == ("class", 17, 37)  # from the first decorator
    assert invoice.signature == "class Invoice(Base):"
    assert invoice.doc == "An invoice."
    total = defs["Invoice.total"]
    assert (total.kind, total.start, total.end) == ("method", 27, 32)
    assert total.signature == "def total(self, lines,\n              tax=0):"
    assert total.doc == "Sum of the lines."
    assert defs["Invoice.total.helper"].kind == "function"
    label = defs["Invoice.label"]
    assert (label.start, label.end, label.signature) == (34, 37, "def label(self):")  # comment not in the header
    assert (defs["TABLE"].kind, defs["TABLE"].start, defs["TABLE"].end) == ("variable", 7, 10)
    assert defs["plain_renamed"].path == "pkg/models.py"


def test_imports_and_references(index):
    entry = index.files["pkg/models.py"]
    assert entry.imports == ("os", "collections", ".base")
    assert {"OrderedDict", "Base", "register", "amount", "join"} <= set(entry.references)
    assert "def" not in entry.references and "return" not in entry.references
    assert len(entry.references) == len(set(entry.references))


def test_other_languages(index):
    assert {"Cart", "Cart.add", "checkout", "shipping"} <= set(_defs(index, "web/app.js"))
    assert _defs(index, "web/app.js")["Cart.add"].kind == "method"
    assert set(index.files["web/app.js"].imports) == {"./thing.js", "util"}
    assert {"Shape", "Shape.area", "Circle", "Circle.area", "unit"} <= set(_defs(index, "web/types.ts"))
    go = _defs(index, "cmd/main.go")
    assert {"Server", "Server.Start", "main"} <= set(go) and go["Server.Start"].kind == "method"
    assert index.files["cmd/main.go"].imports == ("fmt",)
    java = _defs(index, "src/Greeter.java")
    assert {"Greeter", "Greeter.Greeter", "Greeter.greet"} <= set(java)
    assert java["Greeter.greet"].signature == "public String greet()" and java["Greeter"].signature == "public class Greeter"
    rust = _defs(index, "src/lib.rs")
    assert {"Point", "Point.norm", "Shape", "Shape.area", "helper"} <= set(rust)
    assert rust["Point.norm"].kind == "method" and (rust["Point.norm"].start, rust["Point.norm"].end) == (8, 10)
    assert {e.language for e in index.files.values()} == {"python", "javascript", "typescript", "go", "java", "rust", ""}


def test_walk_honours_gitignore_vendored_binary_and_symlinks(index):
    files = set(index.files)
    assert "pkg/untracked.py" in files  # untracked but not ignored
    assert "README.md" in files and index.files["README.md"].language == ""
    assert not any(p.startswith("build/") for p in files)  # .gitignore'd
    assert not any(p.startswith("node_modules/") for p in files)  # vendored
    assert "logo.png" not in files and "data.dat" not in files  # binary
    assert "pkg/link_out.py" not in files and not any(p.startswith("linked_dir") for p in files)  # links out of the tree


def test_tolerates_syntax_errors_bad_bytes_empty_and_huge_files(index):
    broken = index.files["pkg/broken.py"]
    assert broken.has_errors and "after_error" in _defs(index, "pkg/broken.py")
    latin = index.files["pkg/latin1.py"]
    assert "ok" in _defs(index, "pkg/latin1.py") and "\ufffd" in read_text(index, "pkg/latin1.py")
    assert index.files["pkg/empty.py"].n_lines == 0 and index.files["pkg/empty.py"].definitions == ()
    big = index.files["big.py"]
    assert big.n_lines == 2 * BIG_FUNCTIONS and len(big.definitions) == BIG_FUNCTIONS
    assert big.definitions[-1].qualname == f"f_{BIG_FUNCTIONS - 1}" and big.definitions[-1].end == 2 * BIG_FUNCTIONS
    assert latin.blob_id == blob_id_of((Path(index.root) / "pkg/latin1.py").read_bytes())


def test_blob_ids_are_git_blob_ids(repo, index):
    assert index.files["pkg/models.py"].blob_id == _git(repo["root"], "hash-object", "pkg/models.py")


def test_skeleton_elides_bodies_and_keeps_signatures(index):
    skeleton = file_skeleton(index, "pkg/models.py")
    assert "@register\n@other(1)\nclass Invoice(Base):" in skeleton
    assert '    """An invoice."""' in skeleton and "With more words" not in skeleton
    assert "    def total(self, lines,\n              tax=0):\n        \"\"\"Sum of the lines.\"\"\"\n        ..." in skeleton
    assert "helper" not in skeleton and "return x + LIMIT" not in skeleton and "a comment before the body" not in skeleton
    assert '    currency = "EUR"' in skeleton  # class attributes stay
    assert "TABLE = { ..." in skeleton and '"beta"' not in skeleton  # long assignment shortened
    assert "from collections import OrderedDict as OD" in skeleton
    assert estimate_tokens(skeleton) < estimate_tokens(read_text(index, "pkg/models.py"))
    java = file_skeleton(index, "src/Greeter.java")
    assert "    public String greet() {\n        ...\n    }\n}" in java and "Hello" not in java
    assert "    private final String name;" in java
    assert "pub trait Shape {\n    fn area(&self) -> f64;\n}" in file_skeleton(index, "src/lib.rs")  # a declaration stays whole
    js = file_skeleton(index, "web/app.js")
    assert "export class Cart {\n  add(item) {\n    ...\n  }\n}\n" in js and "push" not in js
    assert js.endswith("const shipping = (cart) => 5;")


def test_definition_source_snippets_and_tree(index):
    assert definition_source(index, "Invoice.label").splitlines() == MODELS_PY.splitlines()[33:37]
    assert definition_source(index, "total", path="pkg/models.py").startswith("    def total(")
    with pytest.raises(RepoIndexError):
        definition_source(index, "no_such_thing")
    snippet = line_snippets(index, "pkg/models.py", [(14, 14), 16, 30], context=1)
    assert snippet.splitlines() == [
        "13 def plain_renamed(x):",
        "14     return x + LIMIT",
        "15 ",
        "16 ",
        "17 @register",
        "...",
        "29         \'\'\'Sum of the lines.\'\'\'",
        "30         def helper(line):",
        "31             return line.amount",
    ]
    tree = tree_view(index)
    assert "pkg/\n  __init__.py\n  broken.py" in tree and "\nsrc/\n  Greeter.java\n  lib.rs" in tree
    assert "pkg/ (6 files)" in tree_view(index, max_depth=0)


def test_cache_hits_on_the_second_run_and_only_changed_files_reparsed(repo, tmp_path):
    root = repo["root"]
    first = build_index(root, cache_dir=tmp_path)
    assert first.stats["parsed"] == first.stats["files"] and first.stats["cache_hits"] == 0
    second = build_index(root, cache_dir=tmp_path)
    assert second.stats["cache_hits"] == second.stats["files"] and second.stats["parsed"] == 0
    assert second.files == first.files
    assert second.files["pkg/models.py"] is first.files["pkg/models.py"]  # same process: entries reused
    # Entries keep their parse pickled until asked: the decoded content is what the parse found.
    assert second.stats["definitions"] == sum(len(e.definitions) for e in second.files.values()) > 0
    assert [d.qualname for d in second.files["pkg/models.py"].definitions] == [d.qualname for d in first.files["pkg/models.py"].definitions]
    assert "os" in second.files["pkg/models.py"].imports and "OrderedDict" in second.files["pkg/models.py"].references
    path = root / "pkg/untracked.py"
    original = path.read_text()
    try:
        path.write_text(original + "\ndef fresher():\n    pass\n")
        third = build_index(root, cache_dir=tmp_path)
        assert third.stats["parsed"] == 1 and third.stats["cache_hits"] == third.stats["files"] - 1
        assert "fresher" in _defs(third, "pkg/untracked.py")
    finally:
        path.write_text(original)
    fourth = build_index(root, cache_dir=tmp_path)  # back to bytes the cache has seen
    assert fourth.stats["parsed"] == 0 and "fresher" not in _defs(fourth, "pkg/untracked.py")
    # A fresh process reads the same from the file alone.
    script = f"from repo_index import build_index; i = build_index({str(root)!r}, cache_dir={str(tmp_path)!r}); print(i.stats['parsed'], i.stats['cache_hits'])"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", str(fourth.stats["files"])]


def test_commit_read_without_checkout_and_from_a_bare_repository(repo, tmp_path):
    root = repo["root"]
    before = _git(root, "status", "--porcelain")
    old = build_index(root, commit=repo["first"], cache_dir=tmp_path)
    assert old.commit == repo["first"]
    assert "plain" in _defs(old, "pkg/models.py") and "plain_renamed" not in _defs(old, "pkg/models.py")
    assert "pkg/untracked.py" not in old.files and "logo.png" not in old.files and "data.dat" not in old.files
    assert "def plain(x):" in read_text(old, "pkg/models.py")
    assert _git(root, "status", "--porcelain") == before and _git(root, "rev-parse", "HEAD") == repo["second"]
    # The second commit shares every blob but one with the first: only that one is parsed.
    new = build_index(root, commit=repo["second"][:10], cache_dir=tmp_path)
    assert new.commit == repo["second"] and new.stats["parsed"] == 1
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(root), str(bare)], check=True)
    head = build_index(bare)
    assert head.commit == repo["second"] and "plain_renamed" in _defs(head, "pkg/models.py")
    assert definition_source(head, "plain_renamed") == "def plain_renamed(x):\n    return x + LIMIT"


def test_parallel_parsing_gives_the_same_index(repo):
    serial = build_index(repo["root"], settings=IndexSettings(workers=1))
    parallel = build_index(repo["root"], settings=IndexSettings(workers=2, parallel_min_bytes=0))
    assert parallel.files == serial.files


def test_errors_are_one_sentence(repo, tmp_path):
    with pytest.raises(RepoIndexError, match="does not exist"):
        build_index(tmp_path / "missing")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(RepoIndexError, match="not a git repository"):
        build_index(plain, commit="HEAD")
    with pytest.raises(RepoIndexError, match="is not a commit"):
        build_index(repo["root"], commit="0123456789abcdef0123456789abcdef01234567")


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "patchsmith.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PATCHSMITH_CACHE_DIR": str(cache)},
    )


def test_cli_index_and_show(repo, tmp_path):
    root = str(repo["root"])
    out = _cli("index", "--repo", root, cache=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "definitions:" in out.stdout and "cache hits:  0 of" in out.stdout
    again = _cli("index", "--repo", root, cache=tmp_path)
    files = int(again.stdout.split("files:")[1].split()[0])
    assert f"cache hits:  {files} of {files} (0 parsed)" in again.stdout
    assert list((tmp_path / "index").iterdir())  # under the cache root's "index" folder
    old = _cli("index", "--repo", root, "--commit", repo["first"], cache=tmp_path)
    assert old.returncode == 0 and repo["first"] in old.stdout
    show = _cli("show", "--repo", root, "Invoice.label", cache=tmp_path)
    assert show.returncode == 0 and show.stdout.splitlines()[1:] == MODELS_PY.splitlines()[33:37]
    assert show.stdout.startswith("# pkg/models.py:34-37")
    picked = _cli("show", "--repo", root, "pkg/models.py:total", cache=tmp_path)
    assert picked.returncode == 0 and picked.stdout.startswith("# pkg/models.py:27-32\n    def total(")


@pytest.mark.parametrize(
    "args, sentence",
    [
        (["index", "--repo", "{base}/missing"], "{base}/missing does not exist."),
        (["index", "--repo", "{base}/outside", "--commit", "HEAD"], "{base}/outside is not a git repository, so --commit HEAD cannot be read from it."),
        (["index", "--repo", "{base}/repo", "--commit", "no-such-rev"], "no-such-rev is not a commit of the repository at {base}/repo."),
        (["show", "--repo", "{base}/repo", "NoSuchName"], "no definition named NoSuchName."),
    ],
)
def test_cli_errors_are_one_sentence_and_nonzero(repo, tmp_path, args, sentence):
    base = str(repo["base"])
    out = _cli(*[a.format(base=base) for a in args], cache=tmp_path)
    assert out.returncode != 0
    assert out.stderr == f"patchsmith: {sentence.format(base=base)}\n"
    assert "Traceback" not in out.stderr


def test_cache_appends_then_compacts_and_survives_damage(tmp_path, monkeypatch):
    from patchsmith.repo_index import cache as disk

    monkeypatch.setattr(disk, "MIN_ROOM", 0)  # room = KEEP_FACTOR x 3 files = 9 records
    root = tmp_path / "tree"  # a folder outside git: .gitignore still applies
    root.mkdir()
    (root / ".gitignore").write_text("skip/\n")
    (root / "skip").mkdir()
    (root / "skip/ignored.py").write_text("def ignored():\n    pass\n")
    (root / "a.py").write_text("def a():\n    pass\n")
    cache_dir = tmp_path / "cache"
    build_index(root, cache_dir=cache_dir)
    cache_path = disk.cache_file(cache_dir, str(root))
    sizes = []
    for round_ in range(12):
        (root / "b.py").write_text(f"def b_{round_}():\n    pass\n")
        index = build_index(root, cache_dir=cache_dir)
        assert set(index.files) == {".gitignore", "a.py", "b.py"}
        assert [d.qualname for d in index.files["b.py"].definitions] == [f"b_{round_}"]
        assert index.stats["parsed"] == 1
        stored = disk.load(cache_path)
        assert stored.stored_records <= disk.KEEP_FACTOR * len(index.files)
        sizes.append(cache_path.stat().st_size)
    assert any(later < earlier for earlier, later in zip(sizes, sizes[1:]))  # compacted at least once
    # A run killed while appending leaves a cut frame: what came before still counts.
    cache_path.write_bytes(cache_path.read_bytes() + b"\x80\x05garbage")
    again = build_index(root, cache_dir=cache_dir)
    assert again.stats["cache_hits"] == len(again.files) and again.stats["parsed"] == 0
    (root / "b.py").write_text("def b_last():\n    pass\n")
    assert build_index(root, cache_dir=cache_dir).stats["parsed"] == 1
    assert build_index(root, cache_dir=cache_dir).stats["parsed"] == 0  # the file was rewritten, not appended after the damage
    cache_path.write_bytes(b"not a pickle at all")
    rebuilt = build_index(root, cache_dir=cache_dir)
    assert rebuilt.stats["parsed"] == len(rebuilt.files) and rebuilt.files["a.py"] == again.files["a.py"]


def test_same_bytes_parsed_by_what_the_path_and_settings_ask(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    source = "def shared():\n    pass\n"
    (root / "same.py").write_text(source)
    (root / "same.txt").write_text(source)
    cache_dir = tmp_path / "cache"
    python_only = build_index(root, cache_dir=cache_dir, settings=IndexSettings(languages=("javascript",)))
    assert python_only.files["same.py"].definitions == ()  # python not asked for: listed, not parsed
    index = build_index(root, cache_dir=cache_dir)
    assert [d.qualname for d in index.files["same.py"].definitions] == ["shared"]
    assert index.files["same.txt"].definitions == () and index.files["same.txt"].language == ""
    assert index.files["same.py"].blob_id == index.files["same.txt"].blob_id


def test_a_blob_missing_from_the_object_store_is_an_absent_file(tmp_path):
    # Snapshots of large repositories lack their biggest blobs; git lists their size as BAD.
    root = tmp_path / "snap"
    root.mkdir()
    (root / "kept.py").write_text("def kept():\n    return 1\n")
    (root / "huge.dat").write_text("data\n" * 10)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    blob = _git(root, "rev-parse", "HEAD:huge.dat").strip()
    (root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    index = build_index(str(root / ".git"), commit="HEAD")
    assert "kept.py" in index.files and "huge.dat" not in index.files


def test_written_paths_mean_the_same_in_localize_and_repair():
    """One rule for a path someone wrote: a diff's a/ prefix is dropped in both stages, unless the
    repository really has an `a/` folder holding that path."""
    from patchsmith.localize.answers import PathResolver
    from patchsmith.repair import apply_answer
    from patchsmith.repo_index.paths import written_path

    files = {"pkg/mod.py": "x = 1\n", "a/real.py": "y = 1\n"}
    assert written_path("a/pkg/mod.py", files) == "pkg/mod.py"
    assert written_path("a/real.py", files) == "a/real.py"
    assert written_path("`./pkg/mod.py:3`", files) == "pkg/mod.py"
    assert PathResolver(files).resolve("b/pkg/mod.py") == "pkg/mod.py"
    created = apply_answer("@@@ FILE b/pkg/new.py\n@@@ SEARCH\n@@@ REPLACE\nz = 2\n@@@ END\n", files)
    assert created.ok and created.files == ("pkg/new.py",)
    edited = apply_answer("@@@ FILE a/pkg/mod.py\n@@@ SEARCH\nx = 1\n@@@ REPLACE\nx = 2\n@@@ END\n", files)
    assert edited.ok and edited.files == ("pkg/mod.py",)


def test_one_rule_for_test_files_and_module_names():
    from patchsmith.repo_index.paths import is_non_source, is_test_path, module_names

    assert module_names("src/pkg/mod.py") == ["src.pkg.mod", "pkg.mod"]
    assert module_names("pkg/__init__.py") == ["pkg"]
    for path in ("tests/test_x.py", "pkg/test_x.py", "pkg/x_test.py", "integration_tests/a.py", "conftest.py"):
        assert is_test_path(path) and is_non_source(path), path
    assert not is_test_path("pkg/testing_utils.py") and not is_test_path("docs/conf.py") and is_non_source("docs/conf.py")

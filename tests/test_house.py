"""The house rules a newcomer relies on: small modules and functions, every link in the docs resolves, every
module is named somewhere a reader looks."""

import ast
import re

import pytest
from conftest import ROOT

MODULES = sorted((ROOT / "distill").glob("**/*.py"))
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("**/*.md")),
    *sorted((ROOT / "experiments").glob("*/README.md")),
]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_450_lines_and_no_function_over_60(path):
    source = path.read_text()
    assert len(source.splitlines()) <= 450
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60
    ]
    assert long == []


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert broken == []


def test_every_module_is_named_in_the_readme_or_the_docs():
    """The README's layout names folders and files (``report/ ... build.py``); the docs name dotted modules."""
    text = "\n".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])
    missing = []
    for path in MODULES:
        relative = path.relative_to(ROOT / "distill")
        if path.name == "__init__.py":
            continue
        dotted = "distill." + ".".join(relative.with_suffix("").parts)
        named = dotted in text or str(relative) in text or (path.name in text and f"{relative.parent}/" in text)
        if not named:
            missing.append(str(relative))
    assert missing == []


@pytest.mark.parametrize(
    "study", sorted(p for p in (ROOT / "experiments").iterdir() if p.is_dir()), ids=lambda p: p.name
)
def test_every_study_has_a_readme_naming_its_world_and_a_run_script(study):
    first = (study / "README.md").read_text().splitlines()[0]
    assert first.startswith("# ") and "world" in first
    assert (study / "run.sh").exists()

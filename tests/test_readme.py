"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "README has no Python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    assert "[True, False]" in capsys.readouterr().out


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text().split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in head.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_links_only_to_files_in_the_repository() -> None:
    """A reader of a clone (or of the repository on the web) can follow every link."""
    root = README.parent
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    assert links, "the README links to its docs"
    outside = [link for link in links if "://" in link or link.startswith(("/", ".."))]
    assert not outside, f"links leaving the repository: {outside}"
    missing = [link for link in links if not (root / link.split("#")[0]).exists()]
    assert not missing, f"links to files that do not exist: {missing}"
    for doc in ("docs/protocol.md", "docs/format.md", "docs/architecture.md"):
        assert doc in links, f"the README does not link {doc}"

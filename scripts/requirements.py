"""Print the runtime and dev requirements of pyproject.toml, one per line, for pip.

The virtualenv gets these before the extension is built with maturin, so `make` never
needs an editable install through the build backend.
"""

import tomllib
from pathlib import Path

project = tomllib.loads(Path(__file__).resolve().parents[1].joinpath("pyproject.toml").read_text())[
    "project"
]
for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
    print(requirement)

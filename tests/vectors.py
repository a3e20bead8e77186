"""Where the shared test vectors live, and small loaders for them.

The vectors (RFC 8032, Wycheproof, CCTV, speccheck, BLAKE3, RFC 9162 Merkle) are third-party
data copied raw into ``shared/vectors`` next to the checkout, with their provenance in
``MANIFEST.txt``; they are never copied into the repository. Several test modules replay them,
so the lookup lives here, once.

``LATTICE_VECTORS`` overrides the location (for a checkout elsewhere, or CI). A missing
directory or file makes the calling test *fail* with a message saying where it looked: silently
skipping would let a broken setup look like a passing conformance run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

import pytest

ENV_VAR: Final = "LATTICE_VECTORS"
"""Environment variable naming the vectors directory."""

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
"""The lattice checkout (this file is ``<repo>/tests/vectors.py``)."""

DEFAULT_VECTORS_DIR: Final = REPO_ROOT.parent / "shared" / "vectors"
"""``shared/vectors`` beside the checkout, where the project keeps the shared vectors."""


def _locate() -> Path:
    """The vectors directory: ``$LATTICE_VECTORS`` if set and non-empty, else the default."""
    override = os.environ.get(ENV_VAR, "").strip()
    return Path(override).expanduser().resolve() if override else DEFAULT_VECTORS_DIR


VECTORS_DIR: Final = _locate()


def require_vectors_dir() -> Path:
    """Return :data:`VECTORS_DIR`, failing the current test if it does not exist."""
    if not VECTORS_DIR.is_dir():
        pytest.fail(
            f"test vectors not found: {VECTORS_DIR} is not a directory. Put the shared vectors "
            f"there (see MANIFEST.txt) or set {ENV_VAR} to their location.",
            pytrace=False,
        )
    return VECTORS_DIR


def vector_path(relpath: str) -> Path:
    """The path of one vector file under :data:`VECTORS_DIR`, failing the test if it is missing.

    >>> vector_path("ed25519/dalek/TESTVECTORS").name
    'TESTVECTORS'
    """
    path = require_vectors_dir() / relpath
    if not path.is_file():
        pytest.fail(
            f"test vector file {relpath!r} missing from {VECTORS_DIR} (see MANIFEST.txt there)",
            pytrace=False,
        )
    return path


def load_bytes(relpath: str) -> bytes:
    """The raw contents of one vector file."""
    return vector_path(relpath).read_bytes()


def load_text(relpath: str) -> str:
    """One vector file decoded as UTF-8."""
    return vector_path(relpath).read_text(encoding="utf-8")


def load_lines(relpath: str) -> list[str]:
    """The non-empty lines of a text vector file, without line endings."""
    return [line for line in load_text(relpath).splitlines() if line.strip()]


def load_json(relpath: str) -> Any:
    """One JSON vector file, parsed (the caller knows its schema, hence ``Any``)."""
    with vector_path(relpath).open(encoding="utf-8") as handle:
        return json.load(handle)

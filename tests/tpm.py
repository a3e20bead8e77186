"""A real software TPM for the tests (swtpm), or a loud skip — a failure under CI=true."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from lattice.errors import AttestationError
from lattice.trust.swtpm import SoftwareTpm
from lattice.trust.tpm import pytss
from netns import not_here


def require_tpm() -> None:
    """Skip (or, in CI, fail) unless swtpm, tpm2-tools and tpm2-pytss are all here."""
    reason = None
    if not SoftwareTpm.available():
        reason = "swtpm is not installed (Debian: swtpm swtpm-tools)"
    elif shutil.which("tpm2_checkquote") is None:
        reason = "tpm2-tools are not installed (Debian: tpm2-tools)"
    else:
        try:
            pytss()
        except AttestationError as exc:
            reason = str(exc)
    if reason is not None:
        not_here("TPM", reason)


@contextmanager
def software_tpm() -> Iterator[SoftwareTpm]:
    require_tpm()
    with SoftwareTpm() as tpm:
        yield tpm


def tools(tpm: SoftwareTpm, *args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run one tpm2-tools command against ``tpm`` (then flush what it left loaded)."""
    env = {**os.environ, "TPM2TOOLS_TCTI": tpm.tcti, "TSS2_LOG": "all+NONE"}
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd)
    subprocess.run(["tpm2_flushcontext", "-t"], capture_output=True, env=env, cwd=cwd)
    return done

"""A software TPM 2.0 (``swtpm``) as a real process, for tests and the demo: a fresh state
directory, manufactured by ``swtpm_setup`` with an EK certificate from swtpm's local CA
(:attr:`SoftwareTpm.ca_files`), the TPM command and control channels on loopback, started
and stopped.

>>> SoftwareTpm.available() in (True, False)
True
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from lattice.errors import AttestationError

__all__ = ["LOCALCA_CONF", "SETUP_CONF", "START_TIMEOUT", "SoftwareTpm"]

#: Seconds swtpm has to accept connections once started.
START_TIMEOUT = 10.0
#: swtpm_setup's configuration (Debian's swtpm-tools), and its local CA's.
SETUP_CONF = "/etc/swtpm_setup.conf"
LOCALCA_CONF = "/etc/swtpm-localca.conf"


def _free_port_pair(host: str) -> int:
    """A port p with p and p + 1 free (swtpm's command and control channels)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port + 1))
            except OSError:
                continue
        return int(port)
    raise AttestationError("no two adjacent free ports for swtpm")


class SoftwareTpm:
    """One swtpm process (``with SoftwareTpm() as tpm: tpm.tcti``)."""

    def __init__(
        self, state: Path | None = None, host: str = "127.0.0.1", certified: bool = True
    ) -> None:
        self.host = host
        #: Manufacture it with an EK certificate (swtpm_setup) before the first start.
        self.certified = certified
        self._own_state = state is None
        self.state = state or Path(tempfile.mkdtemp(prefix="lattice-swtpm-"))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """True if the ``swtpm`` command is installed."""
        return shutil.which("swtpm") is not None

    @property
    def tcti(self) -> str:
        """The TCTI that reaches it (``TpmAttester.open``, and ``TPM2TOOLS_TCTI``)."""
        return f"swtpm:host={self.host},port={self.port}"

    @property
    def ca_files(self) -> list[Path]:
        """The local CA's certificates (issuer, root) that sign its EK certificates."""
        conf = Path(LOCALCA_CONF).read_text() if Path(LOCALCA_CONF).exists() else ""
        values = dict(
            (k.strip(), v.strip()) for k, _, v in (ln.partition("=") for ln in conf.splitlines())
        )
        statedir = Path(values.get("statedir", "/var/lib/swtpm-localca"))
        issuer = Path(values.get("issuercert", statedir / "issuercert.pem"))
        return [issuer, statedir / "swtpm-localca-rootca-cert.pem"]

    def start(self) -> SoftwareTpm:
        if not self.available():
            raise AttestationError("swtpm is not installed (Debian: swtpm, swtpm-tools)")
        self.state.mkdir(parents=True, exist_ok=True)
        if self.certified and not (self.state / "tpm2-00.permall").exists():
            made = subprocess.run(
                ["swtpm_setup", "--tpm2", "--create-ek-cert", "--tpmstate", str(self.state),
                 "--config", SETUP_CONF, "--overwrite"],
                capture_output=True, text=True,
            )  # fmt: skip
            if made.returncode != 0:
                raise AttestationError(f"swtpm_setup failed: {made.stdout}{made.stderr}")
        self.port = _free_port_pair(self.host)
        cmd = [
            "swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.state}",
            "--server", f"type=tcp,port={self.port},bindaddr={self.host}",
            "--ctrl", f"type=tcp,port={self.port + 1},bindaddr={self.host}",
            "--flags", "not-need-init,startup-clear",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise AttestationError(f"swtpm exited at start: {err.strip()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AttestationError(f"swtpm did not listen within {START_TIMEOUT} s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None
        if self._own_state:
            shutil.rmtree(self.state, ignore_errors=True)

    def __enter__(self) -> SoftwareTpm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

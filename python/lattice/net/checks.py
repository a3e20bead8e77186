"""The checks a configuration table's values go through (:mod:`lattice.net.config` and
the tables it delegates, :mod:`lattice.net.trustconfig`): each error names the key and says
what was expected, as a typed :class:`~lattice.errors.InvalidArgument`.

>>> Checks().hex32("11" * 32, "public_key") == bytes([0x11]) * 32
True
>>> Checks().known({"colour": 1}, frozenset({"color"}), "[node]")
Traceback (most recent call last):
lattice.errors.InvalidArgument: unknown key 'colour' in [node] (did you mean 'color'?)
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from lattice.errors import InvalidArgument

__all__ = ["MAX_PORT", "Checks", "ConfigFile"]

#: The highest TCP port.
MAX_PORT = 65535


class Checks:
    """Checks of table values; :meth:`error` makes the error (a file's names the file)."""

    def error(self, message: str) -> InvalidArgument:
        return InvalidArgument(message)

    def table(self, raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.error(f"{where} must be a table, got {type(value).__name__}")
        return value

    def known(self, table: dict[str, Any], allowed: frozenset[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.error(f"unknown key {key!r} in {where}{suggestion}")

    def string(self, table: dict[str, Any], key: str, where: str) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise self.error(f"{where} {key} must be a string, got {value!r}")
        return value

    def number(
        self, table: dict[str, Any], key: str, where: str, default: float, whole: bool = False
    ) -> float:
        value = table.get(key, default)
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            kind = "a whole number" if whole else "a number"
            raise self.error(f"{where} {key} must be {kind}, got {value!r}")
        if not 0 < value < float("inf"):
            raise self.error(f"{where} {key} must be positive, got {value!r}")
        return value

    def address(self, value: Any, what: str) -> tuple[str, int]:
        if not isinstance(value, str) or ":" not in value:
            raise self.error(f"{what} must be 'host:port', got {value!r}")
        host, _, port = value.rpartition(":")
        try:
            number = int(port)
        except ValueError:
            raise self.error(f"{what}: bad port in {value!r}") from None
        if not 1 <= number <= MAX_PORT:
            raise self.error(f"{what}: port {number} is outside 1–{MAX_PORT}")
        if not host.strip("[]"):
            raise self.error(f"{what}: no host in {value!r}")
        return host.strip("[]"), number

    def hex32(self, value: Any, what: str) -> bytes:
        try:
            out = bytes.fromhex(value)
        except (TypeError, ValueError):
            raise self.error(f"{what} must be 64 hex digits, got {value!r}") from None
        if len(out) != 32:
            raise self.error(f"{what} must be 32 bytes (64 hex digits), got {len(out)}")
        return out

    def flag(self, table: dict[str, Any], key: str, where: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.error(f"{where} {key} must be true or false, got {value!r}")
        return value

    def tables(
        self, raw: dict[str, Any], key: str, where: str, allowed: frozenset[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        """An array of tables (``[[where]]``), each with only ``allowed`` keys: each
        table with where it is (``[[where]] #n``), for the errors about its values."""
        listed = raw.get(key, [])
        if not isinstance(listed, list) or not all(isinstance(t, dict) for t in listed):
            raise self.error(f"{where} must be tables")
        out = []
        for i, table in enumerate(listed):
            here = f"{where} #{i + 1}"
            self.known(table, allowed, here)
            out.append((here, table))
        return out


class ConfigFile(Checks):
    """One configuration file being read: every error names it, and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, message: str) -> InvalidArgument:
        return InvalidArgument(f"{self.path}: {message}")

    def read(self) -> dict[str, Any]:
        """The file's TOML (:class:`InvalidArgument` if it cannot be read or parsed)."""
        try:
            return tomllib.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidArgument(f"cannot read {self.path}: {exc}") from exc

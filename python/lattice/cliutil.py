"""What the commands of the ``lattice`` command line share: the group that turns errors
into one line, the common options, reading a configuration by role."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lattice.errors import InvalidArgument, LatticeError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_TIMEOUT",
    "PASSWORD_ENV",
    "config_option",
    "password_file_option",
    "timeout_option",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The environment variables the command line reads.
CONFIG_ENV = "LATTICE_CONFIG"
PASSWORD_ENV = "LATTICE_PASSWORD"
#: Seconds a command waits for a node, by default.
DEFAULT_TIMEOUT = 30.0


class _Lattice(click.Group):
    """A group whose commands report user errors as one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LatticeError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc


def config_option(f: F) -> F:
    return click.option(
        "--config",
        "config",
        required=True,
        envvar=CONFIG_ENV,
        show_envvar=True,
        type=click.Path(exists=True, dir_okay=False),
        help="The configuration file.",
    )(f)


def timeout_option(f: F) -> F:
    return click.option(
        "--timeout",
        default=DEFAULT_TIMEOUT,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        help="Seconds to wait for the node.",
    )(f)


def password_file_option(text: str) -> Callable[[F], F]:
    return click.option(
        "--password-file",
        default=None,
        type=click.Path(exists=True, dir_okay=False),
        help=text,
    )


def _config(path: str, role: str = "peer"):  # type: ignore[no-untyped-def]
    """The configuration at ``path``, which must be of a node (``role`` peer) or of a
    client."""
    from lattice.net.config import load

    cfg = load(path)
    if role == "guest" and cfg.role != "guest":
        raise InvalidArgument(
            f"{path} is not a guest's configuration (role = {cfg.role}): `lattice guest` "
            "needs role = guest and home (the owner)"
        )
    if role == "peer" and cfg.role == "guest":
        raise InvalidArgument(
            f"{path} is a guest's configuration (role = guest): node commands need a "
            "node's; a guest uses `lattice guest`"
        )
    if role == "peer" and cfg.role == "client":
        raise InvalidArgument(
            f"{path} is a client's configuration (role = client): node commands need a "
            "node's; a client uses `lattice submit`"
        )
    if role == "client" and cfg.role != "client":
        raise InvalidArgument(
            f"{path} is not a client's configuration (role = {cfg.role}): `lattice submit` "
            "needs role = client and home"
        )
    return cfg


def _control(path: str, req: dict[str, object], timeout: float) -> dict[str, object]:
    """The reply of the node running with configuration ``path`` to ``req``."""
    from lattice.net.control import request

    cfg = _config(path)
    if cfg.control is None:
        raise InvalidArgument(f"{path} names no control socket")
    return request(cfg.control, req, timeout=timeout)


def _password(password_file: str | None, no_password: bool, confirm: bool) -> bytes | None:
    """A key's password: from ``--password-file``, ``$LATTICE_PASSWORD`` or a hidden
    prompt (confirmed when ``confirm``); None only with ``--no-password``."""
    from_env = os.environ.get(PASSWORD_ENV)
    if no_password:
        if password_file is not None:
            raise click.ClickException("--no-password and --password-file contradict each other")
        return None
    if password_file is not None:
        from lattice.net.config import read_password_file

        text = read_password_file(Path(password_file))
        where = f"the password file {password_file}"
    elif from_env is not None:
        text, where = from_env, f"${PASSWORD_ENV}"
    elif sys.stdin.isatty():
        text = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
        where = "the password typed"
    else:
        raise click.ClickException(
            f"a key needs a password: --password-file FILE or ${PASSWORD_ENV} (or a terminal "
            "to type it in); --no-password writes the key unencrypted"
        )
    if not text:
        raise click.ClickException(f"{where} is empty (use --no-password for a key without one)")
    return text.encode()

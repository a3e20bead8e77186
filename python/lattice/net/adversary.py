"""An equivocating peer on a real network, for tests and demos (DESIGN §5, §7): what a
liar with a registered key can do, so that lattice can be seen catching it.

One identity, two real :class:`~lattice.net.node.Node` instances ("twins"), each with its own
store and its own side of the network. Before the fork, whatever the attacker writes
reaches both twins, and with ``--bridge`` the twins also relay honest entries between
their sides (the attacker is the link between two groups). ``fork`` makes each twin sign a
different version of the next entry and stops all bridging.

    python -m lattice.net.adversary --left L.toml --right R.toml [--bridge]

Commands on stdin, one per line; one JSON line answers each on stdout:
``append TEXT``, ``fork TEXT_LEFT TEXT_RIGHT``, ``status``, ``quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys

from lattice import _lattice
from lattice.batch import ReceiveResult
from lattice.identity import Identity
from lattice.net.config import load
from lattice.net.node import Node

__all__ = ["Twin", "main"]


class Twin(Node):
    """One of the attacker's two nodes; with ``bridging`` it relays what it delivers to its
    twin (honestly), and the twin relays it on."""

    twin: Twin | None = None
    bridging = False

    def after_receive(self, result: ReceiveResult, source: bytes | None) -> None:
        super().after_receive(result, source)
        if self.bridging and self.twin is not None and result.to_relay:
            _mirror(self.twin, result.to_relay)


def _mirror(twin: Node, entries: list[_lattice.Entry]) -> None:
    """Entries reach the attacker's other node too, which relays them on its side once
    they are stored (not bridged back: that would echo between the twins)."""
    relayed = twin.replica.receive(entries)
    twin.after_commit(lambda: Node.after_receive(twin, relayed, None))


async def main() -> None:
    """Run the twins and obey the commands on stdin (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--left", required=True)
    parser.add_argument("--right", required=True)
    parser.add_argument("--bridge", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="Log to stderr.")
    args = parser.parse_args()
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
        )
    # The liar forks on purpose: its twins sign without checking their head.
    left_cfg = dataclasses.replace(load(args.left), offline=True)
    right_cfg = dataclasses.replace(load(args.right), offline=True)
    identity = Identity.load(left_cfg.identity)
    left, right = Twin(left_cfg, identity), Twin(right_cfg, identity)
    left.twin, right.twin = right, left
    left.bridging = right.bridging = args.bridge
    await left.start()
    await right.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: object) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    reply({"ok": True, "ready": True})
    try:
        while line := (await reader.readline()).decode():
            cmd, *rest = line.strip().split(" ", 2)
            if cmd == "append":
                entry = left.append(rest[0].encode())
                _mirror(right, [entry])
                await left.durable()
                await right.durable()
                reply({"ok": True, "seq": entry.seq, "id": entry.id.hex()})
            elif cmd == "fork":
                left.bridging = right.bridging = False
                p = left.append(rest[0].encode())
                q = right.append(rest[1].encode())
                await left.durable()
                await right.durable()
                reply({"ok": True, "seq": p.seq, "p": p.id.hex(), "q": q.id.hex()})
            elif cmd == "status":
                reply({"ok": True, "left": left.status(), "right": right.status()})
            elif cmd == "quit":
                break
            else:
                reply({"ok": False, "message": f"unknown command {cmd!r}"})
    finally:
        await left.stop()
        await right.stop()


if __name__ == "__main__":
    asyncio.run(main())

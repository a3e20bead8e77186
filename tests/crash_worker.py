"""Crash-test worker: appends and ingests in a loop, printing every acknowledged id.

Run as ``python tests/crash_worker.py STORE_PATH``; ``tests/test_crash.py`` kills it with
SIGKILL at random moments. A line is printed only after the call that stored the entry
returned, i.e. after its durable commit: everything printed must survive the kill.
"""

from __future__ import annotations

import sys

from lattice import Identity, Replica, _lattice

SWARM = bytes([7]) * 32
PEERS = 3
OTHERS_LOG = 100_000
INGEST_BATCH = 25


def identities() -> list[Identity]:
    return [Identity.from_seed(bytes([0xC0, i]) + bytes(30)) for i in range(PEERS)]


def main(path: str) -> None:
    ids = identities()
    peers = [i.public_key for i in ids]
    rep = Replica(ids[0], peers=peers, swarm_id=SWARM, path=path)
    # The other peers' logs (valid, signed, no dependencies), generated on demand.
    cursor = {pk: rep.head(pk) for pk in peers[1:]}
    step = 0
    while True:
        step += 1
        if step % 3:
            entry = rep.append(f"entry {step}".encode())
            print("A", entry.id.hex(), flush=True)
        else:
            other = ids[1 + step % (PEERS - 1)]
            start = cursor[other.public_key]
            log = _lattice.synthetic_log(other.signing_key, SWARM, start + INGEST_BATCH, 8)
            result = rep.receive(log[start:])
            cursor[other.public_key] = rep.head(other.public_key)
            print("I", " ".join(e.id.hex() for e in result.delivered), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

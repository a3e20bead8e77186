"""Write a seed corpus for ``make fuzz``: valid encodings of everything the Rust decoders
read (entries of every kind, signed headers, a fraud proof, a client op, a chain segment),
so the coverage-guided fuzzer starts from the valid paths instead of rediscovering them.

    python scripts/fuzz_seeds.py fuzz/corpus/decode
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import lattice
from lattice import ClientOp, Entry, FraudProof, Kind, Replica

SWARM = bytes(range(32))


def seeds() -> list[bytes]:
    ids = [lattice.Identity.from_seed(bytes([31, i]) + bytes(30)) for i in range(3)]
    peers = [i.public_key for i in ids]
    a, b, c = (Replica(i, peers=peers, swarm_id=SWARM) for i in ids)
    log = [a.append(b"a" * n) for n in (0, 1, 64, 300)]
    b.receive(log)
    entangled = [b.append(b"b"), b.noop()]
    c.receive([*log, *entangled])
    p = Entry.create(ids[2].signing_key, swarm=SWARM, seq=1, lamport=1, payload=b"P")
    q = Entry.create(ids[2].signing_key, swarm=SWARM, seq=1, lamport=1, payload=b"Q")
    proof = FraudProof.from_entries(p, q)
    fraud_entry = c.append(proof.to_bytes(), kind=Kind.FRAUD)
    op = ClientOp.create(ids[0].signing_key, SWARM, 7, b"pay 5")
    entries = [*log, *entangled, fraud_entry, p]
    return [
        *(e.to_bytes() for e in entries),
        *(e.signed_header() for e in entries),
        proof.to_bytes(),
        op.to_bytes(),
        b"".join(e.to_bytes() for e in log),
    ]


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for data in seeds():
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


if __name__ == "__main__":
    main()

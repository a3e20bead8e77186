"""Say why (issue 10): a node refused after the handshake is told why, and a node whose
own fork its peers have proven learns it — they send the proof — and stops writing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import lattice
from lattice.errors import Blocked
from lattice.net.local import local_swarm


def test_a_node_its_peers_have_proven_forked_learns_it_and_stops_writing(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        n0, n1 = await local_swarm(2, tmp_path, noop_interval=3600)
        try:
            await n1.wait_for(lambda n: len(n.links) == 1)
            # n1's key signed two versions of its entry 1 (a restored backup, say): n0
            # holds the proof, blocklists n1 and cuts it off.
            p, q = (
                lattice.Entry.create(
                    n1.identity.signing_key, swarm=bytes(32), seq=1, lamport=1, payload=v
                )
                for v in (b"one version", b"another")
            )
            proof = lattice.FraudProof.from_entries(p, q)
            assert n0.replica.receive_fraud_proof(proof)
            n0.disconnect(n1.me)
            # n1 dials again: n0 refuses it, with the proof and the reason.
            await n1.wait_for(lambda n: n.me in n.replica.blocklist, timeout=30)
            await n1.wait_for(
                lambda n: any("refused by n0: peer is blocklisted" in r for r in n.closed_reasons)
            )
            assert n1.status()["blocklisted"] == {"seq": 1}
            assert n0.status()["blocklisted"] is None
            with pytest.raises(Blocked, match="this node is blocklisted: fork at seq 1"):
                n1.append(b"after the fork")
            assert n1.replica.maybe_noop() is None
        finally:
            for n in (n0, n1):
                await n.stop()

    asyncio.run(run())

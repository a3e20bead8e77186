"""Blobs in the log (issue 13, DESIGN §10): BLOB entries named by digest, found on every
replica that delivered them, after a restart too; a blob above one payload is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import lattice
from lattice import errors
from lattice.state.blobs import MAX_BLOB_LEN, Blobs
from lattice.state.wasm import WasmStateMachine
from lattice.trust.build import build


def test_a_blob_travels_and_runs_where_it_arrives(tmp_path: Path) -> None:
    ids = [lattice.Identity.generate() for _ in range(2)]
    peers = [i.public_key for i in ids]
    a = lattice.Replica(ids[0], peers=peers)
    b = lattice.Replica(ids[1], peers=peers, path=tmp_path / "b.db")
    blob = build("counter", tmp_path).path.read_bytes()
    names = Blobs(a).publish(blob)
    assert Blobs(a).publish(blob) == names and a.head(a.me) == 1, "published once"
    at_b = Blobs(b)
    assert names["sha256"] not in at_b
    b.receive(a.entries())
    assert at_b.get(names["blake3"]) == blob and at_b.get(names["sha256"].upper()) == blob
    WasmStateMachine(at_b.get(names["sha256"]))  # type: ignore[arg-type]
    b.close()
    again = lattice.Replica(ids[1], peers=peers, path=tmp_path / "b.db")
    assert Blobs(again).get(names["sha256"]) == blob, "found again from the store"
    assert Blobs(again).get("00" * 32) is None


def test_a_blob_above_one_payload_is_refused() -> None:
    me = lattice.Identity.generate()
    rep = lattice.Replica(me, peers=[me.public_key])
    with pytest.raises(errors.LimitExceeded, match="one entry's payload"):
        Blobs(rep).publish(bytes(MAX_BLOB_LEN + 1))
    with pytest.raises(errors.InvalidArgument):
        Blobs(rep).publish("text")  # type: ignore[arg-type]
    assert rep.head(me.public_key) == 0

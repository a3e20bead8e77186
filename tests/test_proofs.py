"""Client quorum proofs (DESIGN §6): built by a replica, verified offline from scratch."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lattice
from lattice import ClientOp, Replica
from lattice.errors import DecodeError, InvalidSignature, UnknownAuthor, WrongSwarm
from lattice.proofs import QuorumProof, SignerEvidence

SWARM = bytes([3]) * 32
N, Q = 4, 3  # f = 1, q = ⌊(4 + 1) / 2⌋ + 1


def build() -> tuple[list[bytes], Replica, lattice.Entry, QuorumProof, lattice.Identity]:
    """Home peer 0 wraps a client op, then keeps writing; the others see later entries of
    home (so every signer's path has several hops) and answer with noops."""
    ids = [lattice.Identity.from_seed(bytes([9, i]) + bytes(30)) for i in range(N)]
    peers = [i.public_key for i in ids]
    reps = [Replica(i, peers=peers, swarm_id=SWARM) for i in ids]
    client = lattice.Identity.from_seed(bytes([42]) * 32)
    home = reps[0]
    before = [home.append(f"warm-up {i}".encode()) for i in range(5)]
    op = ClientOp.create(client.signing_key, SWARM, 7, b"transfer 5 to bob")
    wrapped = home.wrap_client_op(op)
    after = [home.append(f"later {i}".encode()) for i in range(30)]
    log = [*before, wrapped, *after]
    for j, r in enumerate(reps[1:], start=1):
        r.receive(log[: 6 + 10 * j])  # each sees home's log up to a different point
        home.receive([r.noop()])
    home.receive([home.noop()])
    proof = home.quorum_proof(wrapped.id)
    assert proof is not None
    return peers, home, wrapped, proof, client


@pytest.fixture(scope="module")
def built() -> tuple[list[bytes], Replica, lattice.Entry, QuorumProof, lattice.Identity]:
    return build()


def test_proof_verifies_from_scratch(built) -> None:  # type: ignore[no-untyped-def]
    peers, _, wrapped, proof, client = built
    again = QuorumProof.from_bytes(proof.to_bytes())
    assert again == proof
    assert again.verify(peers, SWARM, Q)
    assert again.client_op.client == client.public_key
    assert again.client_op.payload == b"transfer 5 to bob"
    assert again.wrapping_entry.id == wrapped.id
    assert len(again.signers) == N
    assert any(len(s.path) > 2 for s in again.signers), "paths follow lipmaa links"


def test_paths_are_the_shortest_lipmaa_paths(built) -> None:  # type: ignore[no-untyped-def]
    _, _, wrapped, proof, _ = built
    for s in proof.signers:
        assert len(s.path) == len(lattice.lipmaa_path(s.seq, wrapped.seq)) - 1
    far = max(proof.signers, key=lambda s: s.seq)
    assert len(far.path) < far.seq - wrapped.seq, "shorter than walking prev links"


def with_signer(proof: QuorumProof, i: int, **changes: object) -> QuorumProof:
    signers = list(proof.signers)
    signers[i] = dataclasses.replace(signers[i], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(proof, signers=tuple(signers))


def flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 1
    return bytes(b)


def test_altered_links_fail(built) -> None:  # type: ignore[no-untyped-def]
    peers, _, _, proof, _ = built
    i = max(range(N), key=lambda j: len(proof.signers[j].path))
    s = proof.signers[i]
    # A path header altered (its prev link), dropped, or swapped for another.
    path = list(s.path)
    path[1] = flip(path[1], 90)
    assert not with_signer(proof, i, path=tuple(path)).verify(peers, SWARM, Q)
    assert not with_signer(proof, i, path=s.path[:-1]).verify(peers, SWARM, Q)
    assert not with_signer(proof, i, path=s.path[::-1]).verify(peers, SWARM, Q)
    # The frontier item or its Merkle proof altered.
    assert not with_signer(proof, i, id=bytes(32)).verify(peers, SWARM, Q)
    assert not with_signer(proof, i, seq=s.seq + 1).verify(peers, SWARM, Q)
    mp = list(s.merkle_proof)
    mp[0] = flip(mp[0], 0)
    assert not with_signer(proof, i, merkle_proof=tuple(mp)).verify(peers, SWARM, Q)
    # The noop's signature, or the wrapped op.
    assert not with_signer(proof, i, noop=flip(s.noop, 250)).verify(peers, SWARM, Q)
    entry = bytearray(proof.entry)
    entry[-70] ^= 1  # inside the client's op: the payload hash no longer matches
    assert not dataclasses.replace(proof, entry=bytes(entry)).verify(peers, SWARM, Q)


def test_duplicated_signer_fails(built) -> None:  # type: ignore[no-untyped-def]
    peers, _, _, proof, _ = built
    dup = dataclasses.replace(proof, signers=(proof.signers[0],) * 3 + proof.signers[1:2])
    assert not dup.verify(peers, SWARM, Q)


def test_unregistered_signer_fails(built) -> None:  # type: ignore[no-untyped-def]
    peers, _, _, proof, _ = built
    signer = lattice.Entry.header_from_bytes(proof.signers[1].noop).author
    assert not proof.verify([p for p in peers if p != signer] + [bytes(31) + b"\x09"], SWARM, Q)


def test_too_few_signers_fail(built) -> None:  # type: ignore[no-untyped-def]
    peers, _, _, proof, _ = built
    two = dataclasses.replace(proof, signers=proof.signers[:2])
    assert not two.verify(peers, SWARM, Q)
    assert two.verify(peers, SWARM, 2)
    assert not proof.verify(peers, SWARM, N + 1)


def test_other_swarm_fails(built) -> None:  # type: ignore[no-untyped-def]
    peers, _, _, proof, _ = built
    assert not proof.verify(peers, bytes(32), Q)
    assert not dataclasses.replace(proof, swarm_id=bytes(32)).verify(peers, bytes(32), Q)


def test_forked_home_log_fails() -> None:
    """Two versions of one home entry inside one proof: a forked home log."""
    peers, home, wrapped, proof, _ = build()
    # A second version of home's entry at the path's second seq, signed by home.
    i = max(range(N), key=lambda j: len(proof.signers[j].path))
    s = proof.signers[i]
    header = lattice.Entry.header_from_bytes(s.path[1])
    forged = lattice.Entry.create(
        home.identity.signing_key,
        swarm=SWARM,
        seq=header.seq,
        lamport=header.lamport,
        prev=header.prev,
        lipmaa=header.lipmaa if header.lipmaa != bytes(32) else None,
        payload=b"the other version",
    )
    other = SignerEvidence(
        noop=proof.signers[(i + 1) % N].noop,
        seq=s.seq,
        id=s.id,
        index=s.index,
        size=s.size,
        merkle_proof=s.merkle_proof,
        path=(s.path[0], forged.signed_header(), *s.path[2:]),
    )
    bad = dataclasses.replace(proof, signers=(*proof.signers, other))
    assert not bad.verify(peers, SWARM, Q)
    assert wrapped.id == proof.wrapping_entry.id


def test_no_proof_before_a_quorum_has_seen_it() -> None:
    ids = [lattice.Identity.from_seed(bytes([8, i]) + bytes(30)) for i in range(N)]
    peers = [i.public_key for i in ids]
    reps = [Replica(i, peers=peers, swarm_id=SWARM) for i in ids]
    op = ClientOp.create(lattice.Identity.generate().signing_key, SWARM, 1, b"x")
    wrapped = reps[0].wrap_client_op(op)
    assert reps[0].quorum_proof(wrapped.id) is None
    reps[1].receive([wrapped])
    reps[0].receive([reps[1].noop(), reps[0].noop()])
    assert reps[0].quorum_proof(wrapped.id) is None, "two signers are not a quorum of three"
    reps[2].receive([wrapped])
    reps[0].receive([reps[2].noop()])
    proof = reps[0].quorum_proof(wrapped.id)
    assert proof is not None and proof.verify(peers, SWARM, Q)
    assert reps[0].quorum_proof(reps[0].append(b"plain data").id) is None
    assert reps[0].quorum_proof(bytes(32)) is None


def test_home_peer_checks_client_ops() -> None:
    ids = [lattice.Identity.from_seed(bytes([7, i]) + bytes(30)) for i in range(N)]
    peers = [i.public_key for i in ids]
    known = lattice.Identity.generate()
    home = Replica(ids[0], peers=peers, swarm_id=SWARM, clients=[known.public_key])
    stranger = ClientOp.create(lattice.Identity.generate().signing_key, SWARM, 1, b"x")
    with pytest.raises(UnknownAuthor):
        home.wrap_client_op(stranger)
    with pytest.raises(WrongSwarm):
        home.wrap_client_op(ClientOp.create(known.signing_key, bytes(32), 1, b"x"))
    good = ClientOp.create(known.signing_key, SWARM, 1, b"x").to_bytes()
    with pytest.raises(InvalidSignature):
        home.wrap_client_op(flip(good, len(good) - 1))
    with pytest.raises(DecodeError):
        home.wrap_client_op(good[:-1])
    assert home.wrap_client_op(good).payload == good


@given(data=st.data())
def test_decoding_hostile_bytes(built, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    """Every truncation or byte change of an encoded proof is either refused with a
    DecodeError or decodes to a proof that does not verify."""
    peers, _, _, proof, _ = built
    encoded = proof.to_bytes()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        QuorumProof.from_bytes(encoded[:cut])
    at = data.draw(st.integers(0, len(encoded) - 1))
    bit = data.draw(st.integers(0, 7))
    changed = bytearray(encoded)
    changed[at] ^= 1 << bit
    try:
        decoded = QuorumProof.from_bytes(bytes(changed))
    except DecodeError:
        return
    assert not decoded.verify(peers, SWARM, Q)
    with pytest.raises(DecodeError):
        QuorumProof.from_bytes(encoded + b"\x00")

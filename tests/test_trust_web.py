"""Web-of-trust attesters (issue 15, DESIGN §10 and §11): an attestation policy can take its
trusted builders from the swarm's trust graph — the identities within k vouch hops of the
registered peers — beside a named list; the graph is read afresh, so a revoked builder
stops counting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import lattice
from lattice import Kind
from lattice.errors import AttestationError, InvalidArgument
from lattice.net.checks import Checks
from lattice.net.config import Member, load, render
from lattice.net.machines import Machines
from lattice.net.trustconfig import TrustConfig
from lattice.net.trustconfig import parse as parse_trust
from lattice.sybil import AdmissionPolicy, TrustGraph, Vouch
from lattice.trust.attest import BuildManifest, attest
from lattice.trust.policy import Policy

SWARM = bytes(32)


def ident(tag: int) -> lattice.Identity:
    return lattice.Identity.from_seed(bytes([0x3E, tag]) + bytes(30))


PEER, B, C, D, NAMED = (ident(i) for i in range(5))
MANIFEST = BuildManifest(
    "x.wasm", {"sha256": "ab" * 32, "blake3": "cd" * 32}, {"sha256": "ef" * 32},
    {"package": "ziglang"}, ["cc"], "00" * 32, "b",
)  # fmt: skip


def web_graph() -> TrustGraph:
    """PEER → B → C → D: B one hop from the registered peer, C two, D three."""
    graph = TrustGraph([PEER.public_key], SWARM, AdmissionPolicy(hops=3))
    for seq, (voucher, subject) in enumerate(((PEER, B), (B, C), (C, D)), 1):
        vouch = Vouch.create(voucher, SWARM, subject.public_key)
        graph.record(int(Kind.VOUCH), vouch.to_bytes(), 0, seq)
    return graph


def test_builders_within_k_hops_of_the_registered_peers_are_trusted() -> None:
    graph = web_graph()
    assert graph.within(2) == {PEER.public_key, B.public_key, C.public_key}
    policy = Policy({}, 2, web=lambda: graph.within(2))
    with pytest.raises(AttestationError, match="untrusted"):
        policy.add(attest(MANIFEST, D))  # three hops: outside the web
    policy.add(attest(MANIFEST, B))
    assert policy.status(MANIFEST.output) == "pending: 1 of 2 matching attestations"
    policy.add(attest(MANIFEST, C))
    assert policy.status(MANIFEST.output) == "admitted"
    # The registered peer revokes B: B and everyone vouched through it stop counting.
    revoke = Vouch.create(PEER, SWARM, B.public_key, revoke=True)
    graph.record(int(Kind.VOUCH), revoke.to_bytes(), 0, 4)
    assert graph.within(2) == {PEER.public_key}
    assert policy.status(MANIFEST.output) == "pending: 0 of 2 matching attestations"


def test_named_builders_and_the_web_count_together() -> None:
    graph = web_graph()
    policy = Policy({"named": NAMED.public_key}, 2, web=lambda: graph.within(1))
    policy.add(attest(MANIFEST, NAMED))
    with pytest.raises(AttestationError):
        policy.add(attest(MANIFEST, C))  # two hops, the web reaches one
    policy.add(attest(MANIFEST, B))
    assert policy.status(MANIFEST.output) == "admitted"
    with pytest.raises(InvalidArgument, match="only 1 trusted builders"):
        Policy({"named": NAMED.public_key}, 2)  # without the web, N cannot be met


def test_the_trust_table_takes_web_of_trust_hops(tmp_path: Path) -> None:
    f = Checks()
    cfg = parse_trust(f, {"threshold": 2, "builders": [], "web_of_trust_hops": 2})
    assert cfg == TrustConfig(2, (), 2)
    with pytest.raises(InvalidArgument, match="web_of_trust_hops"):
        parse_trust(f, {"web_of_trust_hops": -1})
    with pytest.raises(InvalidArgument, match="threshold 2 with 0"):
        parse_trust(f, {"threshold": 2})
    members = [Member("a", PEER.public_key)]
    text = render(identity="a.key", swarm_id=SWARM, members=members)
    text += "\n[trust]\nthreshold = 1\nweb_of_trust_hops = 1\n"
    (tmp_path / "a.toml").write_text(text)
    with pytest.raises(InvalidArgument, match="needs \\[admission\\]"):
        load(tmp_path / "a.toml")
    (tmp_path / "a.toml").write_text(text + "\n[admission]\nmin_bits = 8\n")
    assert load(tmp_path / "a.toml").trust == TrustConfig(1, (), 1)
    (tmp_path / "a.toml").write_text(text + "\n[admission]\nmin_bits = 8\nhops = 0\n")
    with pytest.raises(InvalidArgument, match="beyond \\[admission\\] hops 0"):
        load(tmp_path / "a.toml")


def test_a_node_s_machines_trust_the_replica_s_web() -> None:
    rep = lattice.Replica(PEER, peers=[PEER.public_key], admission=AdmissionPolicy(min_bits=8))
    rep.append(Vouch.create(PEER, SWARM, B.public_key).to_bytes(), Kind.VOUCH)
    machines = Machines(rep, TrustConfig(1, (), 1))
    assert machines.policy is not None
    from lattice.state.wasm import PROFILE_ID

    pinned = dataclasses.replace(MANIFEST, profile=PROFILE_ID)
    machines.policy.add(attest(pinned, B))
    assert machines.policy.status(pinned.output) == "admitted"
    # A registered peer is in the web, until it forks and is blocklisted.
    q = ident(77)
    peers = [PEER.public_key, q.public_key]
    two = lattice.Replica(PEER, peers=peers, admission=AdmissionPolicy(min_bits=8))
    forked = Machines(two, TrustConfig(1, (), 1))
    assert forked.policy is not None
    forked.policy.add(attest(pinned, q))
    assert forked.policy.status(pinned.output) == "admitted"
    versions = [lattice.Replica(q, peers=peers).append(b"version %d" % n) for n in (1, 2)]
    assert two.receive(versions).frauds and q.public_key in two.blocklist
    assert forked.policy.status(pinned.output) != "admitted"
    with pytest.raises(InvalidArgument, match="trust graph"):
        Machines(lattice.Replica(PEER, peers=[PEER.public_key]), TrustConfig(1, (), 1))


def test_a_named_builder_may_be_called_anything_and_a_revoked_dissenter_stops_counting() -> None:
    graph = web_graph()
    policy = Policy({"web:ci": NAMED.public_key}, 1, web=lambda: graph.within(2))
    policy.add(attest(MANIFEST, NAMED))
    assert policy.status(MANIFEST.output) == "admitted"  # the name is only a name
    other = dataclasses.replace(MANIFEST, output={"sha256": "99" * 32})
    policy.add(attest(other, B))  # B (in the web) attests another output: dissent
    assert policy.status(MANIFEST.output).startswith("quarantined")
    revoke = Vouch.create(PEER, SWARM, B.public_key, revoke=True)
    graph.record(int(Kind.VOUCH), revoke.to_bytes(), 0, 4)
    assert policy.status(MANIFEST.output) == "admitted"  # a revoked dissenter: no more


def test_an_attestation_before_its_builder_s_vouch_counts_once_the_vouch_comes() -> None:
    graph = TrustGraph([PEER.public_key], SWARM, AdmissionPolicy(hops=2))
    policy = Policy({}, 1, web=lambda: graph.within(2))
    with pytest.raises(AttestationError, match="untrusted"):
        policy.add(attest(MANIFEST, B))  # B is nobody yet
    assert policy.status(MANIFEST.output) == "pending: 0 of 1 matching attestations"
    graph.record(int(Kind.VOUCH), Vouch.create(PEER, SWARM, B.public_key).to_bytes(), 0, 1)
    assert policy.status(MANIFEST.output) == "admitted"  # kept, and tried again


def test_an_attestation_kept_while_no_builder_is_trusted_at_all_counts_later() -> None:
    web: set[bytes] = set()  # an empty web, and no named builder: no key is live
    policy = Policy({}, 1, web=lambda: web)
    with pytest.raises(AttestationError, match="no trusted builder key is valid now"):
        policy.add(attest(MANIFEST, B))
    web.add(B.public_key)  # B joins the web: the envelope kept is tried again
    assert policy.status(MANIFEST.output) == "admitted"

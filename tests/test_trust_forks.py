"""The trust graph against a forked carrier and across store changes (issue 15, DESIGN §5
and §11): a record on one branch of a forked peer counts for entries committed to that
branch only, on every replica, whichever branch it delivered and whenever it learned of
the fork; a store remembers the policy its entries were judged under; a refused payload is
an AdmissionError that penalises its carrier; a store from before WRAP keeps its nonces."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

import lattice
from lattice import ClientOp, Kind
from lattice.errors import InvalidRecord, InvalidVouch, NotAdmitted, ProtocolError, StoreError
from lattice.net.nonces import ClientNonces
from lattice.net.sessions.client import load_wrapped
from lattice.sybil import Admission, AdmissionPolicy, admit, vouch

SWARM = bytes(range(32))
BITS = 8
POLICY = AdmissionPolicy(min_bits=BITS)
PEERS = [lattice.Identity.from_seed(bytes([0x6C, i]) + bytes(30)) for i in range(4)]
PKS = [p.public_key for p in PEERS]
A, B, C, D = range(4)


def replica(i: int, policy: AdmissionPolicy | None = POLICY, path: Path | None = None):
    return lattice.Replica(PEERS[i], peers=PKS, swarm_id=SWARM, path=path, admission=policy)


def op(client: lattice.Identity, nonce: int) -> bytes:
    return ClientOp.create(client.signing_key, SWARM, nonce, b"op").to_bytes()


CLIENT = lattice.Identity.from_seed(bytes([0x6C, 99]) + bytes(30))


def forked_history() -> dict[str, lattice.Entry]:
    """Peer A forks at seq 2: one branch admits CLIENT by proof of work, the other does
    not. B wraps CLIENT's op committed to the first branch (valid), C to the second (its
    past holds no admission: invalid, though a record sits at that very seq elsewhere)."""
    alpha, alpha2 = replica(A), replica(A, policy=None)
    a1 = alpha.noop()
    alpha2.receive([a1])
    a2 = admit(alpha, Admission.make(CLIENT.public_key, SWARM, BITS))
    a2x = alpha2.append(b"the other branch")
    beta, gamma = replica(B), replica(C, policy=None)
    beta.receive([a1, a2])
    gamma.receive([a1, a2x])
    b1 = beta.wrap_client_op(op(CLIENT, 1))
    c1 = gamma.wrap_client_op(op(CLIENT, 2))
    assert b1.deps[PKS[A]] == (2, a2.id) and c1.deps[PKS[A]] == (2, a2x.id)
    return {"a1": a1, "a2": a2, "a2x": a2x, "b1": b1, "c1": c1}


def test_a_forked_carriers_records_count_on_their_own_branch_in_every_order() -> None:
    h = forked_history()
    names = list(h)
    for order in itertools.permutations(names):
        r = replica(D)
        delivered, rejected = set(), {}
        for name in order:
            result = r.receive([h[name]])
            delivered |= {e.id for e in result.delivered}
            rejected |= {lattice.Entry.from_bytes(d).id: type(e) for d, e in result.rejected}
        assert h["b1"].id in delivered, order
        assert rejected == {h["c1"].id: NotAdmitted}, order
        assert r.penalties == {PKS[C]: 1}, order
        assert PKS[A] in r.blocklist, order


def test_a_kept_branchs_record_survives_a_restart(tmp_path: Path) -> None:
    h = forked_history()
    r = replica(D, path=tmp_path / "d.db")
    for name in ("a1", "a2x", "b1", "a2"):  # delivers the other branch, keeps a2
        r.receive([h[name]])
    assert r.get(h["b1"].id) is not None and h["a2"].id in {e.id for e in r.evidence()}
    r.close()
    r = replica(D, path=tmp_path / "d.db")
    # Without a past, only delivered records count: a2 is evidence on a branch this
    # replica did not deliver (only an entry committed to it may count it).
    assert not r.trust.admitted(CLIENT.public_key)
    result = r.receive([h["c1"]])
    assert [type(e) for _, e in result.rejected] == [NotAdmitted]
    r.close()


def test_a_store_remembers_its_admission_policy(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    replica(A, path=path).close()
    with pytest.raises(StoreError, match="min_bits=8"):
        replica(A, AdmissionPolicy(min_bits=12), path=path)
    with pytest.raises(StoreError, match="not none"):
        replica(A, None, path=path)
    replica(A, path=path).close()  # the same policy opens
    # A store that wrapped ops without a policy cannot take one: they were never judged.
    open_path = tmp_path / "open.db"
    r = replica(A, None, path=open_path)
    r.wrap_client_op(op(CLIENT, 1))
    r.close()
    with pytest.raises(StoreError, match="without an admission policy"):
        replica(A, path=open_path)
    # One without such entries can.
    plain = tmp_path / "plain.db"
    r = replica(A, None, path=plain)
    r.append(b"data")
    r.close()
    replica(A, path=plain).close()


def test_payloads_that_are_not_what_their_kind_says_are_admission_errors() -> None:
    sender = replica(B, policy=None)
    bad = [
        sender.append(b"not an op", Kind.WRAP),
        sender.append(bytes(7), Kind.ADMISSION),
        sender.append(Admission(CLIENT.public_key, 65, 0).to_bytes(), Kind.ADMISSION),
        sender.append(b"\x01\x01" + bytes(32) * 2 + bytes(64), Kind.VOUCH),
    ]
    other = ClientOp.create(CLIENT.signing_key, bytes(32), 1, b"x").to_bytes()
    bad.append(sender.append(other, Kind.WRAP))  # another swarm's op
    r = replica(A)
    result = r.receive(bad[:1])
    assert [type(e) for _, e in result.rejected] == [InvalidRecord]
    assert r.penalties == {PKS[B]: 1}
    judged = replica(A)  # the rest, judged on their own (in a log they wait on the first)
    for entry in bad:
        with pytest.raises((InvalidRecord, InvalidVouch)) as info:
            judged.trust.check(entry.kind, entry.payload, None, author=entry.author, seq=entry.seq)
        assert info.value.seq == entry.seq and info.value.author == PKS[B]


def test_a_repeated_vouch_does_not_use_up_the_cap() -> None:
    a = replica(A, AdmissionPolicy(min_bits=BITS, max_vouches=1))
    voucher = lattice.Identity.from_seed(bytes([0x6C, 50]) + bytes(30))
    friend = lattice.Identity.from_seed(bytes([0x6C, 51]) + bytes(30))
    vouch(a, voucher.public_key)
    vouch(a, friend.public_key, by=voucher)
    vouch(a, friend.public_key, by=voucher)  # a replay names nobody new
    with pytest.raises(InvalidVouch, match="has given its 1 vouches"):
        vouch(a, CLIENT.public_key, by=voucher)
    assert a.trust.vouches_given(voucher.public_key) == 1
    with pytest.raises(InvalidVouch, match="subject"):
        vouch(a, bytes(32), by=voucher)  # a small-order key is no identity


def test_a_store_from_before_wrap_keeps_refusing_replays(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    r = replica(A, None, path=path)
    old_op = op(CLIENT, 5)
    r.append(old_op)  # what a format-2 home peer did: the op in a DATA entry
    r.close()
    with sqlite3.connect(path) as c:  # make the file what format 2 wrote
        c.execute("DROP INDEX entries_system")
        c.execute("DELETE FROM meta WHERE key IN ('legacy_wraps', 'admission')")
        c.execute("PRAGMA user_version=2")
    r = replica(A, None, path=path)
    assert r.legacy_wraps == 1
    nonces = ClientNonces()
    load_wrapped(nonces, r)
    with pytest.raises(ProtocolError, match="used already"):
        nonces.claim(CLIENT.public_key, 5, check_clock=False)
    later = r.append(op(CLIENT, 6))  # a DATA entry after the upgrade is only data
    r.close()
    r = replica(A, None, path=path)
    nonces = ClientNonces()
    load_wrapped(nonces, r)
    nonces.claim(CLIENT.public_key, 6, check_clock=False)
    assert later.seq == 2 and r.legacy_wraps == 1
    r.close()


def test_a_lower_fork_not_known_here_still_judges_alike() -> None:
    """Peer A forks at seq 5 (branches A and C; 5C admits the client) and again at 8; B wraps
    the client's op committed to 7A. A replica that only knows the fork at 8 keeps 5C and
    5A–7A as evidence; one that delivered 5A–7A knows the fork at 5. Both refuse B's wrap:
    5C is not on the branch B committed to."""
    x = replica(A, policy=None)
    common = [x.append(b"c%d" % i) for i in range(4)]
    xc, xb = replica(A, policy=None), replica(A, policy=None)
    xc.receive(common)
    xb.receive(common)
    branch_a = [x.append(b"A%d" % i) for i in range(5, 9)]  # 5A … 8A
    xb.receive(branch_a[:3])
    a8b = xb.append(b"B8")
    a5c = xc.append(Admission.make(CLIENT.public_key, SWARM, BITS).to_bytes(), Kind.ADMISSION)
    beta = replica(B, policy=None)
    beta.receive(common + branch_a[:3])
    b1 = beta.wrap_client_op(op(CLIENT, 1))
    assert b1.deps[PKS[A]] == (7, branch_a[2].id)
    gamma = replica(C, policy=None)
    gamma.receive([*common, a5c])
    c1 = gamma.noop()  # carries 5C as a dependency, so it is kept where 5A is delivered

    r1 = replica(D)
    r1.receive(common)
    r1.receive_fraud_proof(lattice.FraudProof.from_entries(branch_a[3], a8b))
    r1.receive([c1, a5c])
    refused = []
    for batch in ([b1, *branch_a[:3]], branch_a[1:2], branch_a[:1]):
        refused += [type(e) for _, e in r1.receive(batch).rejected]
    r2 = replica(D)
    r2.receive(common + branch_a[:3])
    r2.receive([a5c, c1])
    refused2 = [type(e) for _, e in r2.receive([b1]).rejected]
    assert r1.get(b1.id) is None and r2.get(b1.id) is None
    assert NotAdmitted in refused and refused2 == [NotAdmitted]


def test_a_kept_branch_s_vouches_are_judged_as_if_delivered_in_every_order() -> None:
    """A forked peer's branch that carries a vouch beyond its voucher's cap: a replica that
    keeps the branch as evidence judges that vouch from the branch's own past, as one that
    delivered the branch does, so the wrap it was meant to admit is delivered nowhere."""
    capped = AdmissionPolicy(min_bits=BITS, max_vouches=1)
    voucher, first, second = (
        lattice.Identity.from_seed(bytes([0x6D, i]) + bytes(30)) for i in range(3)
    )
    alpha = replica(A, policy=None)  # signs what an honest peer would refuse
    other = replica(A, policy=None)
    a1 = vouch(alpha, voucher.public_key)
    a2 = vouch(alpha, first.public_key, by=voucher)
    a3 = vouch(alpha, second.public_key, by=voucher)  # its second: beyond the cap
    other.receive([a1])
    a2y = other.append(b"the other branch")
    beta = replica(B, policy=None)
    beta.receive([a1, a2, a3])
    b1 = beta.wrap_client_op(op(second, 1))
    h = {"a1": a1, "a2": a2, "a3": a3, "a2y": a2y, "b1": b1}
    for order in itertools.permutations(h):
        r = replica(D, policy=capped)
        delivered: set[bytes] = set()
        for name in order:
            delivered |= {e.id for e in r.receive([h[name]]).delivered}
        assert h["b1"].id not in delivered, order
        assert r.trust is not None and not r.trust.admitted(second.public_key), order
        assert PKS[A] in r.blocklist, order


def _folded(where: str) -> tuple[AdmissionPolicy, dict[str, lattice.Entry]]:
    """A forked peer A whose branch carries a vouch by V, admitted (by C's vouch) only
    through a dependency its branch folded: from the delivered log (``where`` =
    "delivered") or from a kept version of the branch ("kept"). B wraps the op of the
    identity V vouched for, committed to that branch: valid everywhere."""
    capped = AdmissionPolicy(min_bits=BITS, max_vouches=4)
    v, s = (lattice.Identity.from_seed(bytes([0x7D, i]) + bytes(30)) for i in range(2))
    c1 = vouch(replica(C, policy=None), v.public_key)  # registered C vouches for V
    alpha, other = replica(A, policy=None), replica(A, policy=None)
    a1 = alpha.append(b"one")
    other.receive([a1])
    if where == "delivered":  # C's vouch is in the part of A's log both branches share
        alpha.receive([c1])
        a2 = alpha.append(b"two")
        other.receive([a2])
        a3 = vouch(alpha, s.public_key, by=v)
        h = {"c1": c1, "a1": a1, "a2": a2, "a3": a3, "a3y": other.append(b"y")}
    else:  # … or only in a version of the branch kept as evidence elsewhere
        a2y = other.append(b"y")
        alpha.receive([c1])
        a2 = alpha.append(b"two")
        a3 = vouch(alpha, s.public_key, by=v)
        h = {"c1": c1, "a1": a1, "a2": a2, "a3": a3, "a2y": a2y}
    beta = replica(B, policy=None)
    beta.receive([x for k, x in h.items() if not k.endswith("y")])
    h["b1"] = beta.wrap_client_op(op(s, 1))
    assert h["b1"].deps[PKS[A]][1] == a3.id
    return capped, h


@pytest.mark.parametrize("where", ["delivered", "kept"])
def test_a_kept_branch_s_past_folds_what_the_branch_committed_to_in_every_order(where: str) -> None:
    capped, h = _folded(where)
    for order in itertools.permutations(h):
        r = replica(D, policy=capped)
        delivered: set[bytes] = set()
        for name in [*order, *order, *order]:  # sent again, as requests would
            delivered |= {e.id for e in r.receive([h[name]]).delivered}
        assert h["b1"].id in delivered, order


def test_a_long_kept_branch_is_judged_in_linear_work() -> None:
    """A forked peer's other branch of k vouches, sent tip first: each kept version's past
    is worked out once (it was a walk and fetch of the whole branch for each record)."""
    k = 200
    alpha, other = replica(A, policy=None), replica(A, policy=None)
    a1 = alpha.append(b"1")
    other.receive([a1])
    a2y = other.append(b"y")
    chain = [alpha.append(b"2")]
    for i in range(k):
        subject = lattice.Identity.from_seed(bytes([9, i]) + bytes(30)).public_key
        chain.append(vouch(alpha, subject))
    beta = replica(B, policy=None)
    beta.receive([a1, *chain])
    b1 = beta.append(b"b")
    r = replica(D)
    r.receive([a1, a2y, chain[0]])
    fetched = 0
    held = r._held_entry

    def counting(entry_id: bytes) -> lattice.Entry:
        nonlocal fetched
        fetched += 1
        return held(entry_id)

    r._held_entry = counting  # type: ignore[method-assign]
    result = r.receive([b1, *reversed(chain[1:])])
    assert len(result.evidence) == k and b1.id in {e.id for e in result.delivered}
    assert r.trust is not None and len(r.trust.vouched(PKS[A], None)) == 0  # kept only
    assert fetched <= 2 * k, fetched

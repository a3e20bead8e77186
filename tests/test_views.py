"""Views and shallow logs (issue 12, DESIGN §8), in one process: the translation of deep
changes into a view, the write-back of guest ops, hostile guests, and restarts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import lattice
import traces
from lattice import errors
from lattice.state import Doc, guestop
from lattice.state.guest import Guest
from lattice.state.ops import LEFT, RIGHT, Element, GuestOp, TextDelete, TextInsert
from lattice.state.views import Views

TRACE = traces.SEQUENTIAL[0]


class Deep:
    """An owner and two other contributors, each a replica with the document."""

    def __init__(self, path: Path | None = None) -> None:
        self.ids = [lattice.Identity.generate() for _ in range(3)]
        self.peers = [i.public_key for i in self.ids]
        self.path = path
        self.reps = [
            lattice.Replica(i, peers=self.peers, path=None if path is None or k else path / "o.db")
            for k, i in enumerate(self.ids)
        ]
        self.docs = [Doc(r, b"doc") for r in self.reps]

    @property
    def owner(self) -> Doc:
        return self.docs[0]

    def sync(self) -> None:
        for a in self.reps:
            for b in self.reps:
                if a is not b:  # each its own entries: a full mesh
                    b.receive(a.entries(a.me, since=b.head(a.me)))


def _guest(views: Views, deep: Deep) -> tuple[Guest, lattice.Identity]:
    me = lattice.Identity.generate()
    view = views.handover(me.public_key)
    g = Guest(me, deep.peers[0], view.id)
    result = g.receive(view.entries())
    assert not result.rejected and g.seq == 1
    return g, me


def _pull(g: Guest, views: Views) -> None:
    view = views.view(g.view, g.identity.public_key)
    result = g.receive(view.entries(since=g.seq))
    assert not result.rejected and result.pending == 0
    assert g.seq == view.seq


def test_later_deep_changes_reach_the_view_in_view_ids() -> None:
    deep = Deep()
    t = deep.owner.text("body")
    t.insert(0, "one two three")
    deep.sync()
    views = Views(deep.owner)
    g, _ = _guest(views, deep)
    deep.docs[1].text("body").insert(0, "zero ")  # another contributor, later
    deep.sync()
    t.delete(deep.owner.text("body").__len__() - 5, 5)
    with deep.owner.transaction():
        deep.owner.map("m")["k"] = "v"
        deep.owner.counter("c").increment(4)
        deep.owner.set("s").add("tag")
    _pull(g, views)
    assert str(g.doc.text("body")) == str(t) == "zero one two "
    assert g.doc.to_py()["map"] == {"m": {"k": "v"}}
    assert g.doc.counter("c").value == 4 and list(g.doc.set("s")) == ["tag"]
    # Nothing of the deep log in what the guest holds: no deep key, no deep entry id.
    view = views.view(g.view, g.identity.public_key)
    sent = b"".join(e.to_bytes() for e in view.entries())
    for rep in deep.reps:
        for entry in rep.entries():
            assert entry.id not in sent and entry.signature not in sent
    for key in deep.peers[1:]:
        assert key not in sent


def test_write_back_round_trip_on_a_trace() -> None:
    """Replay a trace, hand over, the guest edits at random view positions while the deep
    peers keep editing concurrently: all converge, and equal the same edits made on a deep
    replica directly."""
    trace = traces.load(TRACE)
    txns = trace["txns"][:3000]

    def run(through_view: bool) -> tuple[str, str]:
        deep = Deep()
        owner = deep.owner
        text = owner.text("body")
        for txn in txns:
            traces.edit(text, txn["patches"])
        deep.sync()
        views = Views(owner)
        g, _ = _guest(views, deep)
        r = random.Random(99)
        for _ in range(30):
            # Deep peers edit the first third, concurrently with the guest (each its own
            # sixth: no two concurrent inserts at one place, whose order the entry ids
            # would decide — and those differ between the two runs).
            for k, peer in enumerate(deep.docs[1:]):
                pt = peer.text("body")
                sixth = len(pt) // 6
                pt.insert(k * sixth + r.randrange(sixth), r.choice(["P", "peer "]))
                if r.random() < 0.5:
                    pt.delete(k * sixth + r.randrange(sixth), 1)
            # The guest edits the last third of what its view shows.
            n = len(g.doc.text("body"))
            at = r.randrange(2 * n // 3, n)
            if r.random() < 0.5:
                length = r.randint(1, 3)
                if through_view:
                    views.write(g.delete("body", at, length))
                else:
                    text.delete(_deep_index(owner, g, at), length)
            else:
                word = r.choice(["G", "guest ", "ü"])
                if through_view:
                    views.write(g.insert("body", at, word))
                else:
                    text.insert(_deep_index(owner, g, at), word)
            deep.sync()
            _pull(g, views)
        assert len({d.encode() for d in deep.docs}) == 1
        assert str(g.doc.text("body")) == str(text)
        return str(text), str(g.doc.text("body"))

    assert run(True) == run(False)


def _deep_index(owner: Doc, g: Guest, at: int) -> int:
    """Where the guest's visible position ``at`` is in the deep text: the view mirrors it
    exactly while both are synced."""
    assert str(owner.text("body")) == str(g.doc.text("body"))
    return at


def test_guest_delete_tombstones_the_original_deep_elements() -> None:
    deep = Deep()
    t = deep.owner.text("body")
    t.insert(0, "old words")
    first = t.provenance(0)[:2]
    views = Views(deep.owner)
    g, _ = _guest(views, deep)
    views.write(g.delete("body", 0, 4))
    seq = deep.owner.objects.texts["body"]
    assert seq.node(Element(*first)) == ("o", True)
    deep.sync()
    assert str(deep.docs[2].text("body")) == "words"
    # The deep entry carries the signed guest op, for accountability.
    last = deep.reps[0].entries(deep.peers[0])[-1]
    batch = lattice.state.ops.decode(last.payload)
    assert isinstance(batch.ops[-1], GuestOp)
    assert lattice.ClientOp.from_bytes(batch.ops[-1].op).client == g.identity.public_key


def test_guest_values_write_back() -> None:
    deep = Deep()
    deep.owner.set("s").add("a")
    deep.owner.counter("c").increment(2)
    views = Views(deep.owner)
    g, _ = _guest(views, deep)
    for op in (
        g.set_key("m", "k", 1),
        g.increment("c", 5),
        g.add("s", "b"),
        g.remove("s", "a"),
        g.set_register("r", "on"),
    ):
        views.write(op)
    _pull(g, views)
    views.write(g.delete_key("m", "k"))
    _pull(g, views)
    want = {"counter": {"c": 7}, "register": {"r": "on"}, "set": {"s": ["b"]}}
    assert {k: deep.owner.to_py()[k] for k in want} == want
    assert g.doc.counter("c").value == 7 and list(g.doc.set("s")) == ["b"]
    assert "k" not in g.doc.map("m") and "k" not in deep.owner.map("m")


def test_hostile_guest_is_refused_and_nothing_is_stored() -> None:
    deep = Deep()
    deep.owner.text("body").insert(0, "abc")
    views = Views(deep.owner)
    g, me = _guest(views, deep)
    other, _ = _guest(views, deep)
    view = views.view(g.view, me.public_key)
    key = me.signing_key

    def op(ops: tuple, nonce: int, seq: int = 1, view_id: bytes = g.view) -> lattice.ClientOp:
        return guestop.create(key, view_id, nonce, seq, ops)

    good = TextInsert("body", None, RIGHT, "x")
    heads = {pk: deep.reps[0].head(pk) for pk in deep.peers}
    cases: list[tuple[object, type[errors.LatticeError]]] = [
        (op((good,), 5, view_id=bytes(32)), errors.UnknownView),  # unknown view
        (op((good,), 5, view_id=other.view), errors.UnknownView),  # another guest's view
        (guestop.create(other.identity.signing_key, g.view, 5, 1, (good,)), errors.UnknownView),
        (op((good,), 5, seq=9), errors.FutureViewSeq),
        (op((good,), 5, seq=0), errors.FutureViewSeq),
        (
            op((TextInsert("body", Element(bytes([5]) * 32, 0), RIGHT, "x"),), 5),
            errors.NotInCausalPast,
        ),
        (op((TextInsert("body", Element(g.view, 7), RIGHT, "x"),), 5), errors.NotInCausalPast),
        (op((TextInsert("body", Element(g.view, 0), LEFT, "x"),), 5), errors.WrongType),
        (op((GuestOp(b"\x01"),), 5), errors.WrongType),
        (op((TextDelete("body", ((Element(g.view, 1), 9),)),), 5), errors.OpOutOfRange),
        (b"\x01" + bytes(200), errors.DecodeError),
    ]
    for raw, error in cases:
        with pytest.raises(error):
            views.write(raw)  # type: ignore[arg-type]
    tampered = bytearray(op((good,), 5).to_bytes())
    tampered[-1] ^= 1
    with pytest.raises(errors.InvalidSignature):
        views.write(bytes(tampered))
    with pytest.raises(errors.LimitExceeded):
        op((TextInsert("body", None, RIGHT, "x" * (guestop.MAX_GUEST_OP_LEN + 1)),), 5)
    # Replayed and reordered ops.
    views.write(op((good,), 10))
    with pytest.raises(errors.ReplayedGuestOp):
        views.write(op((good,), 10))
    with pytest.raises(errors.ReplayedGuestOp):
        views.write(op((good,), 9))
    # Only the one good op reached the deep log; every view is still there.
    assert deep.reps[0].head(deep.peers[0]) == heads[deep.peers[0]] + 1
    assert len(views) == 2 and str(deep.owner.text("body")) == "xabc"
    # An element that exists in the view only after the seq the op names.
    views.write(op((good,), 11, seq=view.seq))
    _pull(g, views)
    newest = g.doc.objects.texts["body"].element_at(0)
    with pytest.raises(errors.NotInCausalPast):
        views.write(op((TextInsert("body", newest, RIGHT, "y"),), 12, seq=2))


def test_a_flood_of_guest_ops_is_carried_out_in_order() -> None:
    deep = Deep()
    deep.owner.text("body").insert(0, ".")
    views = Views(deep.owner)
    g, _ = _guest(views, deep)
    for i in range(200):
        views.write(g.insert("body", 0, str(i % 10)))
        _pull(g, views)
    assert len(deep.owner.text("body")) == 201 == len(g.doc.text("body"))


def test_owner_restart_resumes_the_view(tmp_path: Path) -> None:
    deep = Deep(tmp_path)
    deep.owner.text("body").insert(0, "before the restart")
    views = Views(deep.owner, tmp_path / "views.db")
    g, me = _guest(views, deep)
    views.write(g.insert("body", 0, ">"))
    deep.owner.text("body").insert(1, " ")
    _pull(g, views)
    seen = g.seq
    spent = g.insert("body", 0, "!")
    views.write(spent)
    views.close()
    # Deep changes while no views follow (a crash between the deep commit and the view's).
    deep.owner.text("body").insert(0, "[")
    deep.docs[0].close()
    deep.reps[0].close()
    rep = lattice.Replica(deep.ids[0], peers=deep.peers, path=tmp_path / "o.db")
    doc = Doc(rep, b"doc")
    again = Views(doc, tmp_path / "views.db")
    view = again.view(g.view, me.public_key)
    entries = view.entries(since=seen)
    assert [e.seq for e in entries] == list(range(seen + 1, view.seq + 1))
    g.receive(entries)
    assert str(g.doc.text("body")) == str(doc.text("body")) == "[!> before the restart"
    with pytest.raises(errors.ReplayedGuestOp):
        again.write(spent)
    again.write(g.delete("body", 0, 1))
    g.receive(view.entries(since=g.seq))
    assert str(g.doc.text("body")) == str(doc.text("body")) == "!> before the restart"

"""Views under the conditions that once broke them (issue 12 review): forked authors, a
crash before the deep commit, an overflowing counter delta, a deep entry at the payload
limit, a concurrent re-add, many handovers, a closed view."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import lattice
from lattice import _lattice
from lattice.net.guest import GuestClient, GuestStore
from lattice.net.local import local_swarm
from lattice.state import Doc
from lattice.state import ops as opcodec
from lattice.state.guest import Guest
from lattice.state.ops import Batch, CounterAdd, TextInsert
from lattice.state.views import MAX_VIEWS_PER_GUEST, Views

I64_MAX = 2**63 - 1


def _owner(
    path: Path | None = None, n: int = 1
) -> tuple[list[lattice.Identity], lattice.Replica, Doc]:
    ids = [lattice.Identity.generate() for _ in range(n)]
    rep = lattice.Replica(ids[0], peers=[i.public_key for i in ids], path=path)
    return ids, rep, Doc(rep, b"doc")


def _guest(views: Views, owner: bytes) -> Guest:
    me = lattice.Identity.generate()
    view = views.handover(me.public_key)
    g = Guest(me, owner, view.id)
    g.receive(view.entries())
    return g


def _pull(g: Guest, views: Views) -> None:
    view = views.view(g.view, g.identity.public_key)
    assert not g.receive(view.entries(since=g.seq)).rejected


def test_a_forked_author_does_not_shift_the_views(tmp_path: Path) -> None:
    ids, owner, doc = _owner(tmp_path / "o.db", n=3)
    peers = [i.public_key for i in ids]
    doc.text("t").insert(0, "hello")
    twins = [lattice.Replica(ids[1], peers=peers) for _ in range(2)]
    Doc(twins[0], b"doc").text("t").insert(0, "A")
    Doc(twins[1], b"doc").text("t").insert(0, "B")
    for twin in twins:
        owner.receive(twin.entries())
    assert owner.frauds
    views = Views(doc, tmp_path / "views.db")
    g = _guest(views, peers[0])
    # (Another text: the owner does not entangle the forked author's entry, so may not
    # edit next to its characters.)
    doc.text("u").insert(0, "abc")
    views.close()  # a crash before the view's next step
    doc.text("u").insert(0, "Z")
    doc.close()
    owner.close()
    owner = lattice.Replica(ids[0], peers=peers, path=tmp_path / "o.db")
    doc = Doc(owner, b"doc")
    views = Views(doc, tmp_path / "views.db")  # starts, and catches up exactly once
    _pull(g, views)
    assert str(g.doc.text("t")) == str(doc.text("t"))
    assert str(g.doc.text("u")) == str(doc.text("u")) == "Zabc"


def test_steps_wait_for_the_deep_commit_and_a_lost_one_is_caught_up(tmp_path: Path) -> None:
    ids, owner, doc = _owner(tmp_path / "o.db")
    doc.text("t").insert(0, "durable")
    queued: list[Callable[[], None]] = []
    views = Views(doc, tmp_path / "views.db", defer=queued.append)
    me = lattice.Identity.generate()
    view = views.handover(me.public_key)
    for then in queued:  # the deep log is durable: the handover is stored
        then()
    queued.clear()
    told: list[int] = []
    views.listeners.append(lambda v, e: told.append(e.seq))
    doc.text("t").insert(0, "more ")
    assert view.seq == 2 and told == [], "nothing is told before the deep entry is stored"
    views.close()  # the commit callbacks never run: as a crash before them
    doc.close()
    owner.close()
    owner = lattice.Replica(ids[0], peers=[ids[0].public_key], path=tmp_path / "o.db")
    doc = Doc(owner, b"doc")
    views = Views(doc, tmp_path / "views.db")
    again = views.view(view.id, me.public_key)
    g = Guest(me, ids[0].public_key, view.id)
    g.receive(again.entries())
    assert str(g.doc.text("t")) == "more durable"


def test_a_view_ahead_of_its_deep_log_is_closed_not_fatal(tmp_path: Path) -> None:
    ids, owner, doc = _owner(tmp_path / "o.db")
    doc.text("t").insert(0, "x")
    views = Views(doc, tmp_path / "views.db")
    g = _guest(views, ids[0].public_key)
    doc.text("t").insert(0, "y")
    views.close()
    doc.close()
    owner.close()
    # The deep log restored from an older backup: a fresh store of the same owner.
    fresh = lattice.Replica(ids[0], peers=[ids[0].public_key], path=tmp_path / "old.db")
    views = Views(Doc(fresh, b"doc"), tmp_path / "views.db")
    assert len(views) == 0 and g.seq == 1


def test_a_counter_delta_beyond_i64_keeps_every_view() -> None:
    ids, _, doc = _owner()
    doc.counter("c").increment(-I64_MAX)
    views = Views(doc)
    a, b = _guest(views, ids[0].public_key), _guest(views, ids[0].public_key)
    views.write(a.write((CounterAdd("c", I64_MAX), CounterAdd("c", I64_MAX))))
    assert len(views) == 2 and doc.counter("c").value == I64_MAX
    for g in (a, b):
        _pull(g, views)
        assert g.doc.counter("c").value == I64_MAX


def test_a_deep_entry_at_the_payload_limit_takes_several_view_entries() -> None:
    logging.getLogger("lattice.state.views").setLevel(logging.CRITICAL)
    ids, _, doc = _owner()
    doc.text("t").insert(0, "x")
    views = Views(doc)
    g = _guest(views, ids[0].public_key)
    limit = _lattice.MAX_PAYLOAD_LEN
    parent, side = doc.objects.texts["t"].place(1)

    def size(n: int) -> int:
        return len(opcodec.encode(Batch(b"doc", (TextInsert("t", parent, side, "a" * n),))))

    n = limit - size(1)
    while size(n) > limit:
        n -= 1
    doc.text("t").insert(1, "a" * n)
    assert len(views) == 1
    before = g.seq
    _pull(g, views)
    assert g.seq - before >= 2 and str(g.doc.text("t")) == str(doc.text("t"))


def test_a_concurrent_re_add_is_not_removed_by_a_guest_that_never_saw_it() -> None:
    ids = [lattice.Identity.generate() for _ in range(2)]
    peers = [i.public_key for i in ids]
    reps = [lattice.Replica(i, peers=peers) for i in ids]
    docs = [Doc(r, b"doc") for r in reps]
    docs[0].set("s").add("x")
    reps[1].receive(reps[0].entries())
    views = Views(docs[0])
    g = _guest(views, peers[0])
    op = g.remove("s", "x")  # made at view seq 1: it saw the first add only
    docs[1].set("s").add("x")  # concurrently, a peer adds "x" again
    reps[0].receive(reps[1].entries())
    views.write(op)
    assert list(docs[0].set("s")) == ["x"], "add wins over a remove that did not see it"


def test_handovers_beyond_the_cap_close_the_oldest_views() -> None:
    _, _, doc = _owner()
    doc.text("t").insert(0, "x")
    views = Views(doc)
    me = lattice.Identity.generate()
    opened = [views.handover(me.public_key).id for _ in range(MAX_VIEWS_PER_GUEST + 3)]
    held = {v.id for v in views}
    assert len(held) == MAX_VIEWS_PER_GUEST and held == set(opened[-MAX_VIEWS_PER_GUEST:])


def test_guests_connect_while_the_owner_types(tmp_path: Path) -> None:
    """The view served at the open and the entries made while it is streamed: SYNCED
    comes after exactly the entries up to the seq VIEW named."""
    guests = [lattice.Identity.generate() for _ in range(6)]

    async def main() -> None:
        (node,) = await local_swarm(1, tmp_path, shares={b"doc": [g.public_key for g in guests]})
        text = node.documents.open(b"doc").text("t")
        text.insert(0, "start")
        typing = True

        async def type_fast() -> None:  # hundreds of keys a second: no person types faster
            while typing:
                text.insert(len(text), "k")
                await asyncio.sleep(0.002)

        typist = asyncio.get_running_loop().create_task(type_fast())
        try:
            for g in guests:
                async with await GuestClient.connect(
                    node.listen_address, g, bytes(32), b"doc"
                ) as c:
                    assert str(c.guest.doc.text("t")).startswith("start")
        finally:
            typing = False
            await typist
            await node.stop()

    asyncio.run(main())


def test_a_guest_whose_view_was_closed_is_handed_a_new_one(tmp_path: Path) -> None:
    me = lattice.Identity.generate()
    store = GuestStore(tmp_path / "g.db")

    async def main() -> None:
        (node,) = await local_swarm(1, tmp_path, shares={b"doc": [me.public_key]})
        node.documents.open(b"doc").text("t").insert(0, "text")
        try:
            async with await GuestClient.connect(
                node.listen_address, me, bytes(32), b"doc", store
            ) as c:
                first = c.guest.view
            views = node.shares[b"doc"]
            views._drop(views.view(first, me.public_key))
            async with await GuestClient.connect(
                node.listen_address, me, bytes(32), b"doc", store
            ) as c:
                assert c.guest.view != first and str(c.guest.doc.text("t")) == "text"
            stranger = lattice.Identity.generate().public_key
            try:
                await GuestClient.connect(
                    node.listen_address, me, bytes(32), b"doc", store, owner=stranger
                )
            except lattice.errors.ProtocolError as exc:
                assert "another key" in str(exc)
            else:
                raise AssertionError("a guest must not take another key for its owner")
        finally:
            await node.stop()

    asyncio.run(main())


def test_a_listener_that_fails_holds_back_no_view() -> None:
    ids, _, doc = _owner()
    doc.text("t").insert(0, "a")
    views = Views(doc)
    a, b = _guest(views, ids[0].public_key), _guest(views, ids[0].public_key)

    def fails(view: object, entry: object) -> None:
        raise RuntimeError("a broken listener")

    views.listeners.append(fails)
    logging.getLogger("lattice.state.views").setLevel(logging.CRITICAL)
    doc.text("t").insert(1, "bc")
    for g in (a, b):
        _pull(g, views)
        assert str(g.doc.text("t")) == "abc"


def test_after_a_reset_every_view_is_rebuilt_from_its_store(tmp_path: Path) -> None:
    ids, _, doc = _owner(tmp_path / "o.db")
    doc.text("t").insert(0, "kept")
    views = Views(doc, tmp_path / "views.db")
    g = _guest(views, ids[0].public_key)
    closed: list[bytes] = []
    views.closers.append(lambda v: closed.append(v.id))
    doc.text("t").insert(4, " and more")
    views._reset()  # as the replica's reset listener does after a failed commit
    assert closed == [g.view], "the session serving the old view ends"
    _pull(g, views)  # the guest resumes the rebuilt view
    assert str(g.doc.text("t")) == str(doc.text("t")) == "kept and more"
    doc.text("t").insert(0, "> ")
    _pull(g, views)
    assert str(g.doc.text("t")) == "> kept and more"


def test_a_session_ends_when_its_view_is_closed(tmp_path: Path) -> None:
    me = lattice.Identity.generate()
    store = GuestStore(tmp_path / "g.db")

    async def main() -> None:
        (node,) = await local_swarm(1, tmp_path, shares={b"doc": [me.public_key]})
        text = node.documents.open(b"doc").text("t")
        text.insert(0, "hello")
        try:
            c = await GuestClient.connect(node.listen_address, me, bytes(32), b"doc", store)
            first = c.guest.view
            views = node.shares[b"doc"]
            for _ in range(MAX_VIEWS_PER_GUEST):  # the cap closes the oldest: this one
                views.handover(me.public_key)
            for _ in range(100):
                if c._failure is not None:
                    break
                await asyncio.sleep(0.02)
            assert c._failure is not None and "no such view" in str(c._failure)
            await c.close()
            text.insert(5, " world")
            async with await GuestClient.connect(
                node.listen_address, me, bytes(32), b"doc", store
            ) as c2:
                assert c2.guest.view != first and str(c2.guest.doc.text("t")) == "hello world"
        finally:
            await node.stop()

    asyncio.run(main())

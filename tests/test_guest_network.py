"""A guest of a real owner process (issue 12, DESIGN §8): the byte scan of everything the
guest receives, the write-back landing in the deep log, and an owner restart.

The deep log: a real editing trace typed by the owner, two other contributors who type,
inject 16-byte random sentinels and delete them again, a secret draft typed and deleted,
values overwritten. The owner runs as its own process (``lattice node run``); the guest
connects over TCP with the Noise handshake, and every plaintext byte string it receives
(the owner's hello, every decrypted frame) is captured at the guest side and scanned —
raw, and inflated from every offset as raw deflate, zlib and gzip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import string
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import lattice
import traces
from cluster import SWARM, Cluster, identity_of
from lattice.net import wire
from lattice.net.config import Member, render
from lattice.net.guest import GuestClient, GuestStore
from lattice.net.process import child_env
from lattice.state import Doc
from lattice.state import ops as opcodec
from lattice.state import snapshot as snap

DOC = "paper"
#: Trace txns typed by the owner, one entry each.
TXNS = 20_000
FORBIDDEN_FIELDS = {"author", "time", "timestamp", "lamport", "seq", "entry"}


def _sync(reps: list[lattice.Replica]) -> None:
    for a in reps:
        for b in reps:
            if a is not b:
                b.receive(a.entries(a.me, since=b.head(a.me)))


def _deep_history(cluster: Cluster) -> dict[str, object]:
    """The owner's deep log on disk (its node is not running yet); what it holds that a
    guest must never see."""
    rng = random.Random(1208)
    nodes = {n.name: n for n in cluster.nodes}
    peers = [n.key for n in cluster.nodes]
    reps = [
        lattice.Replica(n.identity, peers=peers, swarm_id=SWARM, path=n.store)
        for n in cluster.nodes
    ]
    owner, ana, bob = (Doc(r, DOC) for r in reps)
    trace = traces.load(traces.TRACES / "sequential" / "automerge-paper.json.gz")
    text = owner.text("text")
    for txn in trace["txns"][:TXNS]:
        traces.edit(text, txn["patches"])
    secret = "SECRET DRAFT " + "".join(rng.choices(string.ascii_letters, k=16))
    text.insert(len(text) // 2, secret)
    text.delete(text.__str__().index(secret), len(secret))
    sentinels = []
    _sync(reps)
    for doc in (ana, bob):
        t = doc.text("text")
        for _ in range(4):
            s = "".join(rng.choices(string.ascii_letters, k=16))
            sentinels.append(s)
            t.insert(rng.randrange(len(t)), s)
        t.insert(rng.randrange(len(t)), f" kept by {doc.replica.me[:2].hex()} ")  # type: ignore[union-attr]
        doc.map("meta")["title"] = f"draft by {doc.replica.me[:2].hex()}"  # type: ignore[union-attr]
        doc.counter("edits").increment(rng.randint(1, 9))
    _sync(reps)
    for s in sentinels:  # deleted again, by the other contributor
        at = str(bob.text("text")).index(s)
        bob.text("text").delete(at, len(s))
    ana.map("meta")["title"] = "final title"
    _sync(reps)
    assert len({d.encode() for d in (owner, ana, bob)}) == 1
    visible = str(owner.text("text"))
    assert not any(s in visible for s in sentinels)
    deleted: list[str] = []  # maximal runs of deleted characters, in text order
    run: list[str] = []
    for _, char, _, _, gone in owner.objects.texts["text"].nodes():
        if gone:
            run.append(char)
        elif run:
            deleted.append("".join(run))
            run = []
    if run:
        deleted.append("".join(run))
    entries = [e for r in reps[:1] for e in r.entries()]
    found = {
        "sentinels": sentinels,
        "secret": secret,
        "deleted": deleted,
        "visible": visible,
        "ids": [e.id for e in entries],
        "signatures": [e.signature for e in entries],
        "numbers": {e.seq for e in entries} | {e.lamport for e in entries},
        "others": [nodes["ana"].key, nodes["bob"].key],
        "entries": len(entries),
    }
    for doc, rep in zip((owner, ana, bob), reps, strict=True):
        doc.close()
        rep.close()
    return found


def _inflated(data: bytes) -> list[bytes]:
    """Everything that inflates from any offset: raw deflate, zlib and gzip streams."""
    out = []
    for offset in range(len(data)):
        for wbits in (-15, 15, 31):
            d = zlib.decompressobj(wbits)
            try:
                got = d.decompress(data[offset:], 1 << 24)
            except zlib.error:
                continue
            # Whole streams only: from a random offset, inflate turns noise into noise.
            if len(got) >= 16 and d.eof:
                out.append(got)
    return out


def _windows(data: bytes, size: int) -> set[bytes]:
    return {data[i : i + size] for i in range(len(data) - size + 1)}


def _guest_config(directory: Path, owner: Member) -> Path:
    guest = identity_of("guest")
    guest.save(directory / "guest.key")
    path = directory / "guest.toml"
    path.write_text(
        render(
            identity="guest.key",
            swarm_id=SWARM,
            members=[owner],
            store="guest.db",
            role="guest",
            home=owner.name,
        )
    )
    return path


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lattice.cli", *args],
        capture_output=True, text=True, env=child_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_everything_a_guest_receives_is_free_of_the_past(tmp_path: Path) -> None:
    cluster = Cluster.create(tmp_path, ["owner", "ana", "bob"], [], offline=True)
    owner_node = cluster.nodes[0]
    past = _deep_history(cluster)
    guest_id = identity_of("guest")
    _cli(
        "share",
        "--config",
        str(owner_node.config),
        "--doc",
        DOC,
        "--guest",
        guest_id.public_key.hex(),
    )
    owner_node.start()
    captured: list[bytes] = []
    try:
        store = GuestStore(tmp_path / "scan-guest.db")

        async def session() -> tuple[str, bytes, int]:
            connect = GuestClient.connect(
                owner_node.address, guest_id, SWARM, DOC.encode(), store, tap=captured.append
            )
            async with await asyncio.wait_for(connect, 30) as g:
                text = str(g.guest.doc.text("text"))
                # The guest writes back: a delete of old characters, and an insert.
                await g.delete("text", 10, 5)
                await g.insert("text", 3, "GUEST WAS HERE")
                # The owner goes on editing while the guest is connected.
                owner_node.call("doc_insert", doc=DOC, text="text", index=0, value="live ")
                for _ in range(100):
                    if str(g.guest.doc.text("text")).startswith("live "):
                        break
                    await asyncio.sleep(0.05)
                return text, g.guest.view, g.guest.seq

        first_text, view, seq = asyncio.run(session())
        assert first_text == past["visible"]
        shown = owner_node.call("doc_show", doc=DOC, text="text")["text"]
        assert shown.startswith("live ") and "GUEST WAS HERE" in shown
        want = past["visible"][:10] + past["visible"][15:]  # type: ignore[index]
        assert shown == "live " + want[:3] + "GUEST WAS HERE" + want[3:]
    finally:
        owner_node.stop()
    # --- the scan ---------------------------------------------------------------------
    inflated = [b for chunk in captured for b in _inflated(chunk)]
    corpus = [*captured, *inflated]  # each as received (no windows across two of them)
    assert any(b.startswith(snap.MAGIC) for b in inflated), "the snapshot was found and inflated"
    w8 = set().union(*(_windows(c, 8) for c in corpus))
    w32 = set().union(*(_windows(c, 32) for c in corpus))
    visible = past["visible"]
    assert isinstance(visible, str)
    visible_w8 = _windows(("live GUEST WAS HERE" + visible).encode(), 8)
    for sentinel in past["sentinels"]:  # type: ignore[attr-defined]
        assert all(sentinel.encode() not in c for c in corpus)
    assert all(past["secret"].encode() not in c for c in corpus)  # type: ignore[attr-defined]
    deleted_windows = set()
    for run in past["deleted"]:  # type: ignore[attr-defined]
        deleted_windows |= _windows(run.encode(), 8)
    deleted_windows -= visible_w8  # what is also visible is legitimately there
    assert deleted_windows, "the history deleted text"
    assert not deleted_windows & w8
    for key in past["others"]:  # type: ignore[attr-defined]
        assert key not in w32
    for entry_id in past["ids"]:  # type: ignore[attr-defined]
        assert entry_id not in w32
    for sig in past["signatures"]:  # type: ignore[attr-defined]
        assert sig[:32] not in w32 and sig[32:] not in w32
    # Seqs and lamports of the deep log, as u64 either way round, in every payload (and
    # what inflates from it); the numbers in the headers and messages are the view's own,
    # checked field by field below (side by side, small fields make any 8-byte pattern
    # of zeros and ones: only decoded fields say what they are).
    payloads = [
        lattice.Entry.from_bytes(e).payload
        for f in captured[1:]
        if isinstance(m := wire.decode(f), wire.Entries)
        for e in m.entries
    ]
    payloads += [b for p in payloads for b in _inflated(p)]
    p8 = set().union(*(_windows(p, 8) for p in payloads))
    numbers = {n for n in past["numbers"] if n > seq + 1}  # type: ignore[attr-defined]
    assert len(numbers) > TXNS
    for n in numbers:
        assert struct.pack(">Q", n) not in p8 and struct.pack("<Q", n) not in p8
    # --- the schema: every message, entry and payload decoded --------------------------
    hello, *frames = captured
    assert lattice._lattice.Hello.from_bytes(hello).identity == owner_node.key
    kinds = set()
    for frame in frames:
        msg = wire.decode(frame)
        kinds.add(type(msg).__name__)
        if isinstance(msg, wire.View | wire.GuestAck):
            assert msg.seq <= seq
        if isinstance(msg, wire.Entries):
            for data in msg.entries:
                e = lattice.Entry.from_bytes(data)
                assert e.author == owner_node.key and e.swarm == view and not e.deps
                assert e.seq <= seq and e.lamport <= seq  # counted from the genesis
                if e.kind == lattice.Kind.SNAPSHOT:
                    snap.restore(snap.unpack(e.payload))
                    continue
                for op in opcodec.decode(e.payload).ops:
                    assert not {f.name for f in dataclasses.fields(op)} & FORBIDDEN_FIELDS
                    assert not isinstance(op, opcodec.GuestOp)
    assert kinds <= {"View", "Entries", "Synced", "GuestAck", "Ping"}, kinds
    total = sum(map(len, captured))
    print(
        f"\nbyte scan: {len(captured)} plaintexts, {total} bytes received, "
        f"{len(inflated)} inflated streams ({sum(map(len, inflated))} bytes); "
        f"{len(past['sentinels'])} sentinels, {len(deleted_windows)} deleted 8-byte windows, "  # type: ignore[arg-type]
        f"{past['entries']} deep entries' ids and signatures, {len(numbers)} seqs/lamports, "
        f"2 other keys: 0 hits"
    )


def test_owner_restart_and_guest_reconnect_resume_the_view(tmp_path: Path) -> None:
    cluster = Cluster.create(tmp_path, ["owner", "ana", "bob"], [], offline=True)
    owner_node = cluster.nodes[0]
    owner_node.start()
    owner_node.call("doc_insert", doc=DOC, text="text", index=0, value="first")
    owner_node.stop()
    guest_id = identity_of("guest")
    _cli(
        "share",
        "--config",
        str(owner_node.config),
        "--doc",
        DOC,
        "--guest",
        guest_id.public_key.hex(),
    )
    config = _guest_config(tmp_path, Member("owner", owner_node.key, owner_node.address))
    owner_node.start()
    try:
        assert _cli("guest", "show", "--config", str(config), "--doc", DOC).strip() == "first"
        _cli("guest", "insert", "--config", str(config), "--doc", DOC, "5", " second")
        owner_node.call("doc_insert", doc=DOC, text="text", index=0, value="0 ")
        owner_node.stop()
        owner_node.start()  # the owner restarts: the view is still there
        owner_node.call("doc_delete", doc=DOC, text="text", index=0, length=2)
        store = GuestStore(tmp_path / "guest.db")
        held = store.view(DOC.encode())
        assert held is not None
        before = len(store.entries(held[0]))
        captured: list[bytes] = []

        async def resume() -> tuple[str, int]:
            connect = GuestClient.connect(
                owner_node.address, guest_id, SWARM, DOC.encode(), store, tap=captured.append
            )
            async with await asyncio.wait_for(connect, 30) as g:
                assert g.guest.view == held[0], "the same view, not a new handover"
                return str(g.guest.doc.text("text")), g.guest.seq

        text, seq = asyncio.run(resume())
        assert text == "first second"
        sent = [
            lattice.Entry.from_bytes(e).seq
            for f in captured[1:]
            if isinstance(m := wire.decode(f), wire.Entries)
            for e in m.entries
        ]
        # Exactly the entries after the guest's last: no gap, no duplicate.
        assert sent == list(range(before + 1, seq + 1)) and len(sent) >= 2
        store.close()
        assert "first second" in _cli("guest", "show", "--config", str(config), "--doc", DOC)
        shown = owner_node.call("doc_show", doc=DOC, text="text")["text"]
        assert shown == "first second"
    finally:
        owner_node.stop()


def test_share_refuses_a_bad_key(tmp_path: Path) -> None:
    cluster = Cluster.create(tmp_path, ["owner"], [])
    done = subprocess.run(
        [sys.executable, "-m", "lattice.cli", "share", "--config", str(cluster.nodes[0].config),
         "--doc", DOC, "--guest", "nothex"],
        capture_output=True, text=True, env=child_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "64 hex digits" in done.stderr
    with pytest.raises(AssertionError):
        _cli("guest", "show", "--config", str(cluster.nodes[0].config), "--doc", DOC)

# ruff: noqa: E501 - the table of cases reads best one case a line
"""lattice.errors: the hierarchy, the location attributes, and pickling."""

from __future__ import annotations

import pickle

import pytest

from lattice import _lattice, errors


def test_hierarchy() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.LatticeError), name
    assert issubclass(errors.DecodeError, ValueError)
    assert issubclass(errors.PayloadMismatch, errors.DecodeError)
    assert issubclass(errors.BrokenPrev, errors.BrokenChain)
    assert issubclass(errors.OutOfRange, IndexError)


def test_location_in_message_and_pickle() -> None:
    err = errors.BrokenPrev("prev link does not match", index=3, author=b"\xab" * 32, seq=9)
    assert str(err) == "prev link does not match (index 3, author abababababababab…, seq 9)"
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is errors.BrokenPrev
    assert (again.index, again.author, again.seq) == (3, b"\xab" * 32, 9)


def test_rust_raises_the_python_classes() -> None:
    with pytest.raises(errors.Truncated):
        _lattice.Entry.from_bytes(b"\x01")
    with pytest.raises(errors.InvalidArgument):
        _lattice.merkle_root([], "md5")
    with pytest.raises(errors.OutOfRange):
        _lattice.Matrix(2).get(2, 0)


def _api_misuse() -> dict[str, tuple[object, type[errors.LatticeError]]]:
    """Ordinary mistakes with the Python API, each with the typed error it must raise."""
    import lattice

    ids = [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(3)]
    peers = [i.public_key for i in ids]
    stranger = lattice.Identity.from_seed(bytes([9]) * 32).public_key
    rep = lattice.Replica(ids[0], peers=peers)
    closed = lattice.Replica(ids[0], peers=peers)
    closed.close()
    return {
        "head of a stranger": (lambda: rep.head(stranger), errors.UnknownAuthor),
        "id_at of a stranger": (lambda: rep.id_at(stranger, 1), errors.UnknownAuthor),
        "faults as text": (lambda: lattice.Replica(ids[0], peers=peers, faults="1"), errors.InvalidArgument),  # type: ignore[arg-type]
        "append text": (lambda: rep.append("text"), errors.InvalidArgument),  # type: ignore[arg-type]
        "append None": (lambda: rep.append(None), errors.InvalidArgument),  # type: ignore[arg-type]
        "receive text": (lambda: rep.receive(["abc"]), errors.InvalidArgument),  # type: ignore[list-item]
        "receive a number": (lambda: rep.receive([5]), errors.InvalidArgument),  # type: ignore[list-item]
        "fraud proof as text": (lambda: rep.receive_fraud_proof("x"), errors.InvalidArgument),  # type: ignore[arg-type]
        "answer junk": (lambda: rep.answer([object()]), errors.InvalidArgument),  # type: ignore[list-item]
        "a closed replica": (lambda: closed.entries(), errors.StoreError),
        "append to a closed replica": (lambda: closed.append(b"x"), errors.StoreError),
        "empty password": (lambda: ids[0].save("/tmp/never-written.key", password=b""), errors.InvalidArgument),
        "password a number": (lambda: ids[0].save("/tmp/never-written.key", password=5), errors.InvalidArgument),  # type: ignore[arg-type]
        "key file missing": (lambda: lattice.Identity.load("/nonexistent/dir/a.key"), errors.InvalidArgument),
        "key file a directory": (lambda: lattice.Identity.load("/"), errors.InvalidArgument),
        "key into a missing directory": (lambda: ids[0].save("/nonexistent/dir/a.key"), errors.InvalidArgument),
        "lipmaa past 2^64": (lambda: lattice.lipmaa(2**70), errors.LimitExceeded),
        "lipmaa of a negative": (lambda: lattice.lipmaa(-1), errors.LimitExceeded),
        "lipmaa of text": (lambda: lattice.lipmaa("3"), errors.InvalidArgument),  # type: ignore[arg-type]
        "lipmaa_path past 2^64": (lambda: lattice.lipmaa_path(2**64, 1), errors.LimitExceeded),
        "entry seq past 2^64": (lambda: lattice.Entry.create(ids[0].signing_key, swarm=bytes(32), seq=2**64, lamport=1), errors.LimitExceeded),
        "entry lamport as text": (lambda: lattice.Entry.create(ids[0].signing_key, swarm=bytes(32), seq=1, lamport="1"), errors.InvalidArgument),  # type: ignore[arg-type]
        "a matrix of -1 peers": (lambda: lattice.Matrix(-1), errors.LimitExceeded),
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(_api_misuse()))
def test_api_misuse_is_a_typed_error(case: str) -> None:
    call, expected = _api_misuse()[case]
    with pytest.raises(expected):
        call()  # type: ignore[operator]


def test_generators_are_taken_where_lists_are() -> None:
    import lattice

    ids = [lattice.Identity.from_seed(bytes([i + 1]) * 32) for i in range(3)]
    rep = lattice.Replica(ids[0], peers=(i.public_key for i in ids))
    assert len(rep.peers) == 3
    other = lattice.Replica(ids[1], peers=[i.public_key for i in ids])
    assert len(other.receive(e for e in [rep.append(b"x")]).delivered) == 1
    assert rep.entries(ids[0].public_key, since=2**70) == []  # nothing after any seq

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

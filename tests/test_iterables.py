"""Generators are accepted wherever lists are (issue 10): every binding and API that takes
a sequence takes any iterable and answers exactly as for the list; a ``str`` or ``bytes``
where items are expected is a typed ``InvalidArgument``, not a bare ``TypeError``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import lattice
from lattice import _lattice
from lattice.errors import InvalidArgument

SK = _lattice.SigningKey.from_seed(bytes(range(32)))
MESSAGES = [b"a", b"b", b"c"]
SIGS = [SK.sign(m) for m in MESSAGES]
LEAVES = [b"x", b"y", b"z", b"w", b"v"]
ITEMS = [(bytes([i]) * 32, i + 1, bytes([i + 1]) * 32) for i in range(3)]
LOG = _lattice.synthetic_log(SK, bytes(32), 6, 10)


def gen(items: list[object]) -> Iterator[object]:
    yield from items


CALLS: dict[str, tuple[Callable[..., object], list[list[object]], dict[str, object]]] = {
    "verify_batch": (_lattice.verify_batch, [[SK.public_key] * 3, MESSAGES, SIGS], {}),
    "merkle_root": (lattice.merkle_root, [LEAVES], {}),
    "merkle_root_from_hashes": (
        lattice.merkle_root_from_hashes, [[lattice.merkle_leaf_hash(x) for x in LEAVES]], {}
    ),
    "merkle_inclusion_proof": (
        lambda leaves: lattice.merkle_inclusion_proof(leaves, 2), [LEAVES], {}
    ),
    "merkle_consistency_proof": (
        lambda leaves: lattice.merkle_consistency_proof(leaves, 3), [LEAVES], {}
    ),
    "merkle_verify_inclusion": (
        lambda proof: lattice.merkle_verify_inclusion(
            lattice.merkle_leaf_hash(LEAVES[2]), 2, 5, proof, lattice.merkle_root(LEAVES)
        ),
        [lattice.merkle_inclusion_proof(LEAVES, 2)],
        {},
    ),
    "frontier_root": (_lattice.frontier_root, [ITEMS], {}),
    "decode_entries": (
        lambda items: [e.id for e in _lattice.decode_entries(items)], [LOG], {}
    ),
    "validate_chain": (lambda entries: lattice.validate_chain(entries).ids, [LOG], {}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_generator_gives_what_the_list_gives(name: str) -> None:
    fn, args, kwargs = CALLS[name]
    want = fn(*args, **kwargs)
    assert fn(*(gen(a) for a in args), **kwargs) == want
    assert fn(*(tuple(a) for a in args), **kwargs) == want


def test_one_string_where_items_are_expected_is_a_typed_error() -> None:
    for bad in ("abc", b"abc", bytearray(b"abc"), 5):
        with pytest.raises(InvalidArgument, match="expected an iterable"):
            lattice.merkle_root(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        _lattice.verify_batch("k", "m", "s")  # type: ignore[arg-type]


def test_the_matrix_kernel_and_the_replica_take_generators() -> None:
    m = lattice.Matrix(3)
    assert m.update_row(0, ((s, 2) for s in range(3))) == 3
    assert m.row(0) == [2, 2, 2]
    a, b = lattice.Identity.generate(), lattice.Identity.generate()
    ra = lattice.Replica(a, peers=(k.public_key for k in (a, b)))
    rb = lattice.Replica(b, peers=iter([a.public_key, b.public_key]), clients=iter([]))
    entries = [ra.append(bytes([i])) for i in range(3)]
    result = rb.receive(e.to_bytes() for e in entries)
    assert [e.seq for e in result.delivered] == [1, 2, 3]
    assert lattice.EntanglementMatrix(k for k in ra.peers).n == 2


def test_one_buffer_of_entries_in_any_bytes_like_form() -> None:
    import array
    import mmap

    import numpy as np

    blob = b"".join(LOG)
    want = lattice.validate_chain(LOG).ids
    with mmap.mmap(-1, len(blob)) as mapped:
        mapped.write(blob)
        for form in (blob, bytearray(blob), memoryview(blob), array.array("B", blob),
                     np.frombuffer(blob, dtype=np.uint8), mapped):  # fmt: skip
            assert lattice.validate_chain(form).ids == want, type(form)


def test_unordered_and_lying_iterables_are_refused_not_trusted() -> None:
    with pytest.raises(InvalidArgument, match="ordered"):
        _lattice.verify_batch({SK.public_key}, {b"a"}, {SIGS[0]})
    with pytest.raises(InvalidArgument, match="ordered"):
        lattice.merkle_root({b"a": 1})
    with pytest.raises(InvalidArgument, match="iterable of items"):
        lattice.merkle_root(memoryview(b"abc"))
    # A length is only a hint: 2**40 items are not reserved up front (this used to abort).
    with pytest.raises(TypeError):
        lattice.merkle_root(range(2**40))  # type: ignore[arg-type]

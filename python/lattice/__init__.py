"""Lattice: Byzantine-tolerant peer-to-peer replication with signed, entangled logs.

Peers keep signed, hash-chained logs and entangle them; the entanglement matrix tells who
has provably seen what. The performance-critical core is Rust (``lattice._lattice``); this
package re-exports the public names.

>>> import lattice
>>> ident = lattice.Identity.generate()
>>> sig = ident.sign(b"hello")
>>> lattice.verify_batch([ident.public_key], [b"hello"], [sig])
[True]
"""

from __future__ import annotations

from lattice import errors
from lattice._lattice import (
    DOMAINS,
    FORMAT_VERSION,
    HEADER_LEN,
    ID_LEN,
    MAX_DEPS,
    MAX_ENTRY_LEN,
    MAX_PAYLOAD_LEN,
    SIGNATURE_LEN,
    SIGNED_HEADER_LEN,
    ChainReport,
    ClientOp,
    Entry,
    FraudProof,
    Matrix,
    __version__,
    check_public_key,
    hash,
    lipmaa,
    lipmaa_path,
    merkle_consistency_proof,
    merkle_inclusion_proof,
    merkle_leaf_hash,
    merkle_root,
    merkle_root_from_hashes,
    merkle_verify_consistency,
    merkle_verify_inclusion,
    validate_chain,
    verify,
    verify_batch,
)
from lattice.entry import Kind
from lattice.errors import LatticeError
from lattice.identity import Identity
from lattice.matrix import ColumnMatrix, EntanglementMatrix
from lattice.proofs import QuorumProof
from lattice.replica import Missing, ReceiveResult, Replica
from lattice.state import Doc

#: Names imported on first use (they bring in wasmtime).
_LAZY = {
    "WasmStateMachine": "lattice.state.wasm",
    "WasmDoc": "lattice.state.wasmdoc",
    "Policy": "lattice.trust.policy",
}


def __getattr__(name: str) -> object:
    """``lattice.WasmStateMachine``, ``lattice.WasmDoc`` and ``lattice.Policy`` (DESIGN
    §14), imported when first asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lattice' has no attribute {name!r}")


__all__ = [
    "DOMAINS",
    "FORMAT_VERSION",
    "HEADER_LEN",
    "ID_LEN",
    "MAX_DEPS",
    "MAX_ENTRY_LEN",
    "MAX_PAYLOAD_LEN",
    "SIGNATURE_LEN",
    "SIGNED_HEADER_LEN",
    "ChainReport",
    "ClientOp",
    "ColumnMatrix",
    "Doc",
    "EntanglementMatrix",
    "Entry",
    "FraudProof",
    "Identity",
    "Kind",
    "LatticeError",
    "Matrix",
    "Missing",
    "Policy",
    "QuorumProof",
    "ReceiveResult",
    "Replica",
    "WasmDoc",
    "WasmStateMachine",
    "__version__",
    "check_public_key",
    "errors",
    "hash",
    "lipmaa",
    "lipmaa_path",
    "merkle_consistency_proof",
    "merkle_inclusion_proof",
    "merkle_leaf_hash",
    "merkle_root",
    "merkle_root_from_hashes",
    "merkle_verify_consistency",
    "merkle_verify_inclusion",
    "validate_chain",
    "verify",
    "verify_batch",
]

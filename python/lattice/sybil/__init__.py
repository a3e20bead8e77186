"""Sybil resistance (DESIGN §11): admission by proof of work or vouches
(:mod:`~lattice.sybil.records`), the trust graph that judges them from an entry's causal
past (:mod:`~lattice.sybil.graph`), per-identity scores (:mod:`~lattice.sybil.scores`) and
the token-bucket budgets their bands buy (:mod:`~lattice.sybil.budget`)."""

from lattice.sybil.admit import admit, carry_vouch, vouch
from lattice.sybil.budget import Budget, TokenBucket
from lattice.sybil.graph import AdmissionPolicy, TrustGraph
from lattice.sybil.records import Admission, Vouch
from lattice.sybil.scores import ScoreParams, Scores

__all__ = [
    "Admission",
    "AdmissionPolicy",
    "Budget",
    "ScoreParams",
    "Scores",
    "TokenBucket",
    "TrustGraph",
    "Vouch",
    "admit",
    "carry_vouch",
    "vouch",
]

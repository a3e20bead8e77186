"""Sybil resistance (DESIGN §11): admission by proof of work or vouches
(:mod:`~lattice.sybil.records`), the trust graph that judges them from an entry's causal
past (:mod:`~lattice.sybil.graph`), and — as later steps land — scores, budgets and the
simulation that measures them."""

from lattice.sybil.admit import admit, carry_vouch, vouch
from lattice.sybil.graph import AdmissionPolicy, TrustGraph
from lattice.sybil.records import Admission, Vouch

__all__ = ["Admission", "AdmissionPolicy", "TrustGraph", "Vouch", "admit", "carry_vouch", "vouch"]

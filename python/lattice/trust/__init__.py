"""Trust (DESIGN §10): what lets a peer run code it did not write — reproducible builds of
the shipped Wasm state machines (:mod:`~lattice.trust.build`), and, as later issues land,
build attestations, their policy and remote attestation."""

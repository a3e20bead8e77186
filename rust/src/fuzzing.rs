//! The properties every decoder must keep on any input (DESIGN §16), in one function that
//! the coverage-guided fuzz target (`fuzz/`, `make fuzz`) and the crash-regression test
//! (`rust/tests/fuzz_regressions.rs`) both call.
//!
//! For each decoder — entry (header and body), signed header, fraud proof, client op,
//! handshake hello, chain segment — the input either fails with a typed error or decodes to a value that
//! encodes back to exactly the input (one encoding per value). Any panic is a bug.

use crate::chain::{self, Expect};
use crate::client::ClientOp;
use crate::codec::{self, EntryView, HEADER_LEN, SignedHeader};
use crate::fraud::FraudProof;
use crate::hash::{self, Domain};
use crate::noise::Hello;

/// Run every decoder on `data`, asserting the properties above.
pub fn check_decoders(data: &[u8]) {
    if let Ok(entry) = EntryView::decode(data) {
        assert_eq!(codec::peek_len(data), Some(data.len()), "entry length");
        assert_eq!(&entry.header().encode()[..], &data[..HEADER_LEN], "header");
        assert_eq!(entry.id(), &hash::hash(Domain::Entry, &data[..HEADER_LEN]));
        assert_eq!(entry.deps().len(), entry.deps().count());
    }
    if let Ok(signed) = SignedHeader::decode(data) {
        assert_eq!(&signed.encode()[..], data, "signed header");
    }
    if let Ok(proof) = FraudProof::decode(data) {
        assert_eq!(proof.encode(), data, "fraud proof");
        let swarm = *proof.swarm();
        if proof.check(&swarm).is_ok() {
            let [a, b] = proof.headers();
            assert_ne!(a.id, b.id, "a fork needs two versions");
            assert_eq!(a.header.seq, b.header.seq);
        }
    }
    if let Ok(op) = ClientOp::decode(data) {
        assert_eq!(op.encode(), data, "client op");
        let _ = op.verify();
    }
    if let Ok(hello) = Hello::decode(data) {
        assert_eq!(hello.encode(), data, "hello");
    }
    let segment = chain::split(data);
    let expect = Expect {
        verify_signatures: true,
        threads: Some(1),
        ..Expect::default()
    };
    if let Ok(report) = chain::validate(&segment, &expect) {
        assert!(report.ids.len() <= segment.len());
        assert_eq!(report.error.is_none(), report.ids.len() == segment.len());
    }
}

//! The properties every decoder must keep on any input (DESIGN §16), in one function that
//! the coverage-guided fuzz target (`fuzz/`, `make fuzz`) and the crash-regression test
//! (`rust/tests/fuzz_regressions.rs`) both call.
//!
//! For each decoder — entry (header and body), signed header, fraud proof, client op,
//! handshake hello, chain segment — the input either fails with a typed error or decodes to a value that
//! encodes back to exactly the input (one encoding per value). Any panic is a bug.
//!
//! The same input also drives a document text kernel ([`check_text_kernel`]): hostile
//! elements, sides, indexes and rollbacks must be refused with a `TextError`, never panic,
//! and leave a kernel that agrees with itself.

use crate::chain::{self, Expect};
use crate::client::ClientOp;
use crate::codec::{self, EntryView, HEADER_LEN, SignedHeader};
use crate::fraud::FraudProof;
use crate::hash::{self, Domain};
use crate::noise::Hello;
use crate::text::{Elem, Sequence};

/// Run every decoder on `data`, asserting the properties above.
pub fn check_decoders(data: &[u8]) {
    check_text_kernel(data);
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

/// Drive a text kernel with the calls `data` spells, 4 bytes each (call, a, b, n), over
/// four entries so that elements collide: inserts under any parent and side, deletes and
/// erases of any range, Fugue placements, marks and rollbacks. Refusals are fine; a panic
/// or a kernel whose counts, text and nodes disagree is a bug.
pub fn check_text_kernel(data: &[u8]) {
    let mut seq = Sequence::new();
    let mut marked = false;
    let elem = |e: u8, index: u8| Elem {
        entry: [e % 4; 32],
        index: u32::from(index),
    };
    for c in data.chunks_exact(4) {
        let (a, b, n) = (c[1], c[2], c[3]);
        let text: Vec<char> = "fuzz".chars().cycle().take(usize::from(n % 5)).collect();
        match c[0] % 7 {
            0 => drop(seq.insert(None, n % 3, elem(a, b), &text)),
            1 => drop(seq.insert(Some(elem(n, n)), a % 3, elem(a, b), &text)),
            2 => drop(seq.delete(elem(a, b), u32::from(n % 9))),
            3 => drop(seq.type_at(usize::from(n), elem(a, b), &text)),
            4 => drop(seq.erase(usize::from(a), usize::from(b))),
            5 => drop(seq.place_after(Some(elem(a, b)))),
            _ => {
                if marked {
                    assert!(seq.rollback().is_ok(), "a mark was set");
                } else {
                    seq.mark();
                }
                marked = !marked;
            }
        }
        assert_eq!(seq.text().chars().count(), seq.len(), "visible count");
    }
    let nodes = seq.nodes();
    assert_eq!(nodes.len(), seq.total(), "every element in the walk");
    for i in 0..=seq.len() {
        assert!(seq.place(i).is_ok(), "a place at every index");
    }
    let again = Sequence::from_nodes(&nodes);
    assert!(
        again.is_ok_and(|again| again.nodes() == nodes),
        "a kernel's own nodes form a tree, and the walk follows from it"
    );
}

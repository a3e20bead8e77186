//! Deterministic synthetic logs, for benchmarks, demos and tests that need many valid
//! entries faster than Python can build them one by one.

use rayon::prelude::*;

use crate::codec::{DecodeError, EntryView, Kind, UnsignedEntry};
use crate::sign::Keypair;
use crate::{Id, ZERO_ID, lipmaa};

/// Encode `count` valid, signed DATA entries of one author, seqs `1..=count`, each with a
/// `payload_len`-byte payload. Hashing is sequential (each id feeds the next header);
/// signing, the expensive part, runs on every core.
pub fn log(
    key: &Keypair,
    swarm: &Id,
    count: u64,
    payload_len: usize,
) -> Result<Vec<Vec<u8>>, DecodeError> {
    // First pass: headers and ids with a placeholder signature.
    let mut ids: Vec<Id> = Vec::with_capacity(count as usize);
    let mut entries: Vec<Vec<u8>> = Vec::with_capacity(count as usize);
    for seq in 1..=count {
        let link = lipmaa::lipmaa(seq);
        let unsigned = UnsignedEntry {
            kind: Kind::Data,
            swarm: *swarm,
            author: *key.public_key(),
            seq,
            lamport: seq,
            prev: ids.last().copied().unwrap_or(ZERO_ID),
            lipmaa: if link == 0 {
                ZERO_ID
            } else {
                ids[link as usize - 1]
            },
            deps: Vec::new(),
            frontier_root: ZERO_ID,
            payload: (0..payload_len).map(|i| (i as u64 ^ seq) as u8).collect(),
        };
        let bytes = unsigned.encode(|_| [0; crate::codec::SIGNATURE_LEN])?;
        ids.push(*EntryView::decode(&bytes)?.id());
        entries.push(bytes);
    }
    // Second pass: the signatures, in parallel.
    entries.par_iter_mut().zip(&ids).for_each(|(bytes, id)| {
        let signature = key.sign(id);
        bytes[crate::codec::HEADER_LEN..crate::codec::SIGNED_HEADER_LEN]
            .copy_from_slice(&signature);
    });
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{self, Expect};

    #[test]
    fn synthetic_logs_validate() {
        let key = Keypair::from_seed(&[9; 32]);
        let entries = log(&key, &[1; 32], 200, 16).unwrap();
        let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
        let report = chain::validate(
            &refs,
            &Expect {
                verify_signatures: true,
                ..Expect::default()
            },
        )
        .unwrap();
        assert_eq!(report.error, None);
        assert_eq!(report.ids.len(), 200);
    }
}

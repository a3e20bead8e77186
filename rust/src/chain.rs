//! Validation of a whole segment of one author's log in one call (DESIGN §3).
//!
//! A segment is a run of entries with contiguous seqs. Decoding and hashing (the expensive
//! part) run in parallel; the link checks are then one cheap sequential pass. Signatures,
//! when asked for, are verified in one batch over the valid prefix.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::codec::{self, CheckedEntry, DecodeError, HeaderRef, Reader};
use crate::lipmaa;
use crate::sign::{self, SignError};
use crate::{Id, ZERO_ID};

/// Entries decoded, then checked, per round: small enough that the chunk's headers are
/// still in the core's cache when its links are checked.
const DECODE_CHUNK: usize = 2048;
/// Fewest entries per parallel task: large enough that scheduling is noise.
const PARALLEL_MIN: usize = 256;

/// Why one entry of a segment is not a valid continuation of the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFailure {
    /// The entry does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The entry has another author than the segment.
    #[error("entry has another author than the segment")]
    WrongAuthor,
    /// The entry belongs to another swarm.
    #[error("entry belongs to another swarm")]
    WrongSwarm,
    /// The entry's seq does not follow the previous one.
    #[error("seq {got} does not follow {expected_prev}")]
    SeqGap {
        /// The seq the entry has.
        got: u64,
        /// The seq of the entry before it.
        expected_prev: u64,
    },
    /// The lamport clock does not increase along the log.
    #[error("lamport {got} is not above the previous entry's {prev}")]
    LamportNotIncreasing {
        /// The entry's lamport.
        got: u64,
        /// Its predecessor's.
        prev: u64,
    },
    /// `prev` is not the id of entry `seq - 1`.
    #[error("prev link does not match the id of seq {target}")]
    BrokenPrev {
        /// The seq the link points at.
        target: u64,
    },
    /// `lipmaa` is not the id of entry `lipmaa(seq)`.
    #[error("lipmaa link does not match the id of seq {target}")]
    BrokenLipmaa {
        /// The seq the link points at.
        target: u64,
    },
    /// A link points before the segment and `prior` does not say where.
    #[error("link to seq {target} cannot be checked: it is before the segment and not in prior")]
    UnresolvedLink {
        /// The seq the link points at.
        target: u64,
    },
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// The first failure in a segment: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failure}")]
pub struct ChainError {
    /// Index of the failing entry in the segment.
    pub index: usize,
    /// Its seq, if it could be read.
    pub seq: Option<u64>,
    /// Its author, if it could be read.
    pub author: Option<Id>,
    /// Why it failed.
    pub failure: ChainFailure,
}

/// What a segment must match and what is known before it.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The author every entry must have (default: the first entry's).
    pub author: Option<Id>,
    /// The swarm every entry must belong to (default: the first entry's).
    pub swarm: Option<Id>,
    /// Ids of entries before the segment, by seq, for links that point there.
    pub prior: HashMap<u64, Id>,
    /// Whether to verify signatures.
    pub verify_signatures: bool,
    /// Threads for decoding and signatures (`None`: all cores).
    pub threads: Option<usize>,
}

/// Outcome of [`validate`]: the ids of the valid prefix, and the first failure if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Ids of the entries before the first failure, in order.
    pub ids: Vec<Id>,
    /// The first failure.
    pub error: Option<ChainError>,
}

/// Split a buffer of back-to-back encoded entries into entries; a malformed tail becomes
/// one final slice that will fail to decode at its index.
pub fn split(buf: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let len = codec::peek_len(rest)
            .filter(|&len| len <= rest.len() && len <= codec::MAX_ENTRY_LEN)
            .unwrap_or(rest.len());
        let (head, tail) = rest.split_at(len);
        out.push(head);
        rest = tail;
    }
    out
}

/// What the sequential link check needs of one decoded entry: the header in place and the
/// id, so a whole chunk of them stays in cache between the parallel decode and the pass.
#[derive(Clone, Copy)]
struct Link<'a> {
    header: HeaderRef<'a>,
    id: Id,
}

fn decode_link(bytes: &[u8]) -> Result<Link<'_>, DecodeError> {
    let mut r = Reader::new(bytes);
    let checked = CheckedEntry::read(&mut r)?;
    r.finish()?;
    Ok(Link {
        header: checked.header,
        id: checked.id,
    })
}

/// Validate a segment: see the module docs. Never panics on any input.
///
/// Entries are decoded and hashed a chunk at a time (in parallel when `threads > 1`), and
/// each chunk's links are checked before the next is decoded, so memory stays
/// O(entries · id) however long the segment, and the work stops at the first failure.
pub fn validate(entries: &[&[u8]], expect: &Expect) -> Result<Report, SignError> {
    let threads = expect
        .threads
        .unwrap_or_else(rayon::current_num_threads)
        .max(1);
    let mut ids: Vec<Id> = Vec::with_capacity(entries.len());
    let mut error = None;
    let mut first: Option<(Id, Id, u64)> = None; // author, swarm, first seq
    let mut last_lamport = 0u64;
    let mut links: Vec<Result<Link<'_>, DecodeError>> = Vec::with_capacity(DECODE_CHUNK);

    for (chunk_index, chunk) in entries.chunks(DECODE_CHUNK).enumerate() {
        let base = chunk_index * DECODE_CHUNK;
        links.clear();
        if threads > 1 {
            chunk
                .par_iter()
                .with_min_len(PARALLEL_MIN)
                .map(|bytes| decode_link(bytes))
                .collect_into_vec(&mut links);
        } else {
            links.extend(chunk.iter().map(|bytes| decode_link(bytes)));
        }
        // Entries before the first undecodable one are checked, all at once: a link check
        // needs only ids, and every id up to here is known.
        let decoded = links.iter().position(Result::is_err).unwrap_or(links.len());
        let ok: Vec<Link<'_>> = links[..decoded]
            .iter()
            .filter_map(|l| l.as_ref().ok())
            .copied()
            .collect();
        if let (None, Some(link)) = (first, ok.first()) {
            let h = link.header;
            first = Some((
                expect.author.unwrap_or(*h.author()),
                expect.swarm.unwrap_or(*h.swarm()),
                h.seq(),
            ));
        }
        let mut failed = None;
        if let Some((author, swarm, start)) = first {
            let context = Context {
                author,
                swarm,
                start,
                last_lamport,
                ids: &ids,
                chunk: &ok,
                base,
                prior: &expect.prior,
            };
            let fails = |offset: &usize| context.check(*offset).is_err();
            let first_bad = if threads > 1 {
                (0..ok.len())
                    .into_par_iter()
                    .with_min_len(PARALLEL_MIN)
                    .find_first(fails)
            } else {
                (0..ok.len()).find(fails)
            };
            failed = first_bad.map(|offset| (offset, context.check(offset)));
        }
        let good = failed.as_ref().map_or(ok.len(), |(offset, _)| *offset);
        ids.extend(ok[..good].iter().map(|l| l.id));
        if let Some(last) = ok[..good].last() {
            last_lamport = last.header.lamport();
        }
        if let Some((offset, Err(failure))) = failed {
            let h = ok[offset].header;
            error = Some(ChainError {
                index: base + offset,
                seq: Some(h.seq()),
                author: Some(*h.author()),
                failure,
            });
            break;
        }
        if let Some(Err(e)) = links.get(decoded) {
            let index = base + decoded;
            error = Some(ChainError {
                index,
                seq: codec::peek_seq(entries[index]),
                author: None,
                failure: e.clone().into(),
            });
            break;
        }
    }

    if expect.verify_signatures
        && !ids.is_empty()
        && let Some(bad) = first_bad_signature(&entries[..ids.len()], &ids, threads)?
    {
        error = Some(ChainError {
            index: bad,
            seq: codec::peek_seq(entries[bad]),
            author: author_of(entries[bad]).copied(),
            failure: ChainFailure::BadSignature,
        });
        ids.truncate(bad);
    }
    Ok(Report { ids, error })
}

fn author_of(entry: &[u8]) -> Option<&Id> {
    entry
        .get(codec::OFF_AUTHOR..codec::OFF_AUTHOR + crate::ID_LEN)
        .and_then(|b| b.try_into().ok())
}

/// Index of the first entry whose signature fails, verifying all of them in one batch.
/// Every entry here has decoded, so the key and signature sit at their fixed offsets.
fn first_bad_signature(
    entries: &[&[u8]],
    ids: &[Id],
    threads: usize,
) -> Result<Option<usize>, SignError> {
    let mut items = Vec::with_capacity(entries.len());
    for (entry, id) in entries.iter().zip(ids) {
        let (Some(public_key), Some(signature)) = (
            author_of(entry),
            entry
                .get(codec::HEADER_LEN..codec::SIGNED_HEADER_LEN)
                .and_then(|b| b.try_into().ok()),
        ) else {
            // Unreachable for decoded entries; treat as a bad signature rather than panic.
            return Ok(Some(items.len()));
        };
        items.push(sign::Item {
            public_key,
            message: id,
            signature,
        });
    }
    let verdicts = sign::verify_batch(&items, Some(threads))?;
    Ok(verdicts.iter().position(|ok| !ok))
}

/// The state a link check needs: where the segment starts, the ids of the entries before
/// this chunk, and the chunk's decoded entries.
struct Context<'a, 'b> {
    author: Id,
    swarm: Id,
    start: u64,
    /// Lamport of the entry before the chunk (0 at the start of the segment).
    last_lamport: u64,
    ids: &'a [Id],
    chunk: &'a [Link<'b>],
    /// Index in the segment of the chunk's first entry.
    base: usize,
    prior: &'a HashMap<u64, Id>,
}

impl Context<'_, '_> {
    /// Check entry `offset` of the chunk; independent of every other check, so a chunk is
    /// checked in parallel and the first failure is the one with the lowest offset.
    fn check(&self, offset: usize) -> Result<(), ChainFailure> {
        let h = self.chunk[offset].header;
        let index = self.base + offset;
        if h.author() != &self.author {
            return Err(ChainFailure::WrongAuthor);
        }
        if h.swarm() != &self.swarm {
            return Err(ChainFailure::WrongSwarm);
        }
        let seq = h.seq();
        let expected_prev = (self.start - 1).checked_add(index as u64);
        if expected_prev.and_then(|p| p.checked_add(1)) != Some(seq) {
            return Err(ChainFailure::SeqGap {
                got: seq,
                expected_prev: expected_prev.unwrap_or(u64::MAX),
            });
        }
        let prev_lamport = match offset {
            0 => self.last_lamport,
            _ => self.chunk[offset - 1].header.lamport(),
        };
        if index > 0 && h.lamport() <= prev_lamport {
            return Err(ChainFailure::LamportNotIncreasing {
                got: h.lamport(),
                prev: prev_lamport,
            });
        }
        if seq > 1 {
            let target = seq - 1;
            match self.id_of(target) {
                Some(id) if id == h.prev() => {}
                Some(_) => return Err(ChainFailure::BrokenPrev { target }),
                None => return Err(ChainFailure::UnresolvedLink { target }),
            }
        }
        if h.lipmaa() != &ZERO_ID {
            let target = lipmaa::lipmaa(seq);
            match self.id_of(target) {
                Some(id) if id == h.lipmaa() => {}
                Some(_) => return Err(ChainFailure::BrokenLipmaa { target }),
                None => return Err(ChainFailure::UnresolvedLink { target }),
            }
        }
        Ok(())
    }

    /// The id of seq `target`: before the chunk, in it, or in prior. Only called for
    /// targets below an entry whose seq was checked, so `target < start + index`.
    fn id_of(&self, target: u64) -> Option<&Id> {
        if target < self.start {
            return self.prior.get(&target);
        }
        let index = usize::try_from(target - self.start).ok()?;
        match index.checked_sub(self.base) {
            None => self.ids.get(index),
            Some(offset) => self.chunk.get(offset).map(|l| &l.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{EntryView, Kind, UnsignedEntry};
    use crate::sign::Keypair;

    /// A valid log of `n` entries by `key`.
    pub(crate) fn log(key: &Keypair, n: u64) -> Vec<Vec<u8>> {
        let mut ids: Vec<Id> = Vec::new();
        let mut out = Vec::new();
        for seq in 1..=n {
            let e = UnsignedEntry {
                kind: Kind::Data,
                swarm: [1; 32],
                author: *key.public_key(),
                seq,
                lamport: seq * 2,
                prev: if seq == 1 {
                    ZERO_ID
                } else {
                    ids[seq as usize - 2]
                },
                lipmaa: if seq == 1 {
                    ZERO_ID
                } else {
                    ids[lipmaa::lipmaa(seq) as usize - 1]
                },
                deps: vec![],
                frontier_root: ZERO_ID,
                payload: seq.to_be_bytes().to_vec(),
            };
            let bytes = e.encode(|id| key.sign(id)).unwrap();
            ids.push(*EntryView::decode(&bytes).unwrap().id());
            out.push(bytes);
        }
        out
    }

    fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
        v.iter().map(|b| b.as_slice()).collect()
    }

    #[test]
    fn valid_log_with_signatures() {
        let key = Keypair::from_seed(&[4; 32]);
        let entries = log(&key, 100);
        for threads in [Some(1), Some(2)] {
            let expect = Expect {
                verify_signatures: true,
                threads,
                ..Expect::default()
            };
            let report = validate(&refs(&entries), &expect).unwrap();
            assert_eq!(report.error, None);
            assert_eq!(report.ids.len(), 100);
        }
    }

    #[test]
    fn split_of_concatenation() {
        let key = Keypair::from_seed(&[4; 32]);
        let entries = log(&key, 10);
        let joined: Vec<u8> = entries.concat();
        assert_eq!(split(&joined), refs(&entries));
        let cut = &joined[..joined.len() - 3];
        assert_eq!(split(cut).len(), 10);
    }

    #[test]
    fn segment_needs_prior() {
        let key = Keypair::from_seed(&[4; 32]);
        let entries = log(&key, 50);
        let tail = refs(&entries[20..]);
        let report = validate(&tail, &Expect::default()).unwrap();
        assert_eq!(
            report.error.unwrap().failure,
            ChainFailure::UnresolvedLink { target: 20 }
        );
        let all = validate(&refs(&entries), &Expect::default()).unwrap();
        let prior = (1..=20).map(|s| (s, all.ids[s as usize - 1])).collect();
        let report = validate(
            &tail,
            &Expect {
                prior,
                ..Expect::default()
            },
        )
        .unwrap();
        assert_eq!(report.error, None);
        assert_eq!(report.ids, all.ids[20..]);
    }

    #[test]
    fn breaks_are_located() {
        let key = Keypair::from_seed(&[4; 32]);
        let other = Keypair::from_seed(&[5; 32]);
        let mut entries = log(&key, 30);
        entries[17] = log(&other, 18).pop().unwrap();
        let report = validate(&refs(&entries), &Expect::default()).unwrap();
        let err = report.error.unwrap();
        assert_eq!((err.index, err.failure), (17, ChainFailure::WrongAuthor));
        assert_eq!(report.ids.len(), 17);

        let mut entries = log(&key, 30);
        entries.remove(10);
        let err = validate(&refs(&entries), &Expect::default())
            .unwrap()
            .error
            .unwrap();
        assert_eq!(err.index, 10);
        assert!(matches!(err.failure, ChainFailure::SeqGap { got: 12, .. }));
    }

    #[test]
    fn bad_signature_is_located() {
        let key = Keypair::from_seed(&[4; 32]);
        let mut entries = log(&key, 30);
        entries[12][codec::HEADER_LEN + 3] ^= 1;
        let report = validate(
            &refs(&entries),
            &Expect {
                verify_signatures: true,
                ..Expect::default()
            },
        )
        .unwrap();
        let err = report.error.unwrap();
        assert_eq!((err.index, err.failure), (12, ChainFailure::BadSignature));
        assert_eq!(report.ids.len(), 12);
    }

    #[test]
    fn garbage_never_panics() {
        let report = validate(&[&[0u8; 3][..], b""], &Expect::default()).unwrap();
        assert_eq!(report.error.unwrap().index, 0);
        assert!(split(&[0xff; 400]).len() == 1);
    }
}

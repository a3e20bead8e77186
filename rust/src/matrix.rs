//! The N×N kernels of the entanglement matrix (DESIGN §4).
//!
//! `M[o][s]` is the seq of sender `s` in the frontier of observer `o`'s latest delivered
//! entry. Cells are stored column-major, so one sender's column — the unit of every quorum
//! query — is contiguous. Cells only grow: updates are `fetch_max`, which keeps them
//! monotone even if two threads update one row at once, and lets queries run with the GIL
//! released while the owner keeps a shared reference.
//!
//! The one exception is a proven fork (DESIGN §4, §5): [`Matrix::freeze`] caps a sender's
//! column at the last seq before the fork, lowering cells above it, and every later update
//! of that column is capped too, so no query can report the forked log past the cap.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

/// Largest supported N: 4096² cells are 128 MiB (§15 targets N = 4096).
pub const MAX_PEERS: usize = 1 << 14;
/// Columns per parallel task in whole-matrix queries.
const COLUMNS_PER_TASK: usize = 16;

/// Errors of matrix operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    /// A peer index outside the matrix.
    #[error("peer index {index} is outside a matrix of {n} peers")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The number of peers.
        n: usize,
    },
    /// A quorum size outside 1..=N.
    #[error("quorum size {q} is outside 1..={n}")]
    QuorumOutOfRange {
        /// The quorum size asked for.
        q: usize,
        /// The number of peers.
        n: usize,
    },
    /// Too many peers.
    #[error("a matrix of {n} peers is above the limit of {MAX_PEERS}")]
    TooLarge {
        /// The number asked for.
        n: usize,
    },
}

/// An N×N matrix of monotone u64 cells.
#[derive(Debug)]
pub struct Matrix {
    n: usize,
    // Column-major: cell (observer o, sender s) is at s * n + o. Never reallocated, so a
    // pointer handed to numpy stays valid for the matrix's lifetime.
    cells: Box<[AtomicU64]>,
    // Per sender, the highest value its column may hold (u64::MAX unless frozen).
    caps: Box<[AtomicU64]>,
}

impl Matrix {
    /// An all-zero matrix over `n` peers.
    pub fn new(n: usize) -> Result<Matrix, MatrixError> {
        if n > MAX_PEERS {
            return Err(MatrixError::TooLarge { n });
        }
        let cells = (0..n * n).map(|_| AtomicU64::new(0)).collect();
        let caps = (0..n).map(|_| AtomicU64::new(u64::MAX)).collect();
        Ok(Matrix { n, cells, caps })
    }

    /// Number of peers.
    pub fn n(&self) -> usize {
        self.n
    }

    fn check(&self, index: usize) -> Result<(), MatrixError> {
        if index < self.n {
            Ok(())
        } else {
            Err(MatrixError::IndexOutOfRange { index, n: self.n })
        }
    }

    /// The cell of `observer`'s row and `sender`'s column.
    pub fn get(&self, observer: usize, sender: usize) -> Result<u64, MatrixError> {
        self.check(observer)?;
        self.check(sender)?;
        Ok(self.cells[sender * self.n + observer].load(Ordering::Relaxed))
    }

    /// Raise the cells of one row to at least the given `(sender, seq)` values; returns how
    /// many cells grew. O(delta). All indexes are checked before anything changes.
    pub fn update_row(
        &self,
        observer: usize,
        delta: &[(usize, u64)],
    ) -> Result<usize, MatrixError> {
        self.check(observer)?;
        for &(sender, _) in delta {
            self.check(sender)?;
        }
        let mut grew = 0;
        for &(sender, seq) in delta {
            let seq = seq.min(self.caps[sender].load(Ordering::Relaxed));
            let old = self.cells[sender * self.n + observer].fetch_max(seq, Ordering::Relaxed);
            grew += usize::from(old < seq);
        }
        Ok(grew)
    }

    /// Cap `sender`'s column at `cap` for good: cells above it are lowered to it, and later
    /// updates never raise a cell of the column past it. A lower cap replaces a higher one;
    /// a higher one changes nothing. Returns how many cells were lowered.
    pub fn freeze(&self, sender: usize, cap: u64) -> Result<usize, MatrixError> {
        self.check(sender)?;
        self.caps[sender].fetch_min(cap, Ordering::Relaxed);
        let cap = self.caps[sender].load(Ordering::Relaxed);
        Ok(self
            .column_slice(sender)
            .iter()
            .filter(|c| c.fetch_min(cap, Ordering::Relaxed) > cap)
            .count())
    }

    /// The cap of `sender`'s column, if it is frozen.
    pub fn frozen_at(&self, sender: usize) -> Result<Option<u64>, MatrixError> {
        self.check(sender)?;
        let cap = self.caps[sender].load(Ordering::Relaxed);
        Ok((cap != u64::MAX).then_some(cap))
    }

    /// One sender's column (every observer's view of it).
    pub fn column(&self, sender: usize) -> Result<Vec<u64>, MatrixError> {
        self.check(sender)?;
        Ok(self
            .column_slice(sender)
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect())
    }

    /// One observer's row.
    pub fn row(&self, observer: usize) -> Result<Vec<u64>, MatrixError> {
        self.check(observer)?;
        Ok((0..self.n)
            .map(|s| self.cells[s * self.n + observer].load(Ordering::Relaxed))
            .collect())
    }

    fn column_slice(&self, sender: usize) -> &[AtomicU64] {
        &self.cells[sender * self.n..(sender + 1) * self.n]
    }

    /// Per sender, the minimum over observers: what every peer has provably seen.
    pub fn known_to_all(&self) -> Vec<u64> {
        (0..self.n)
            .map(|s| {
                self.column_slice(s)
                    .iter()
                    .map(|c| c.load(Ordering::Relaxed))
                    .min()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Per sender, the `q`-th largest value over observers (`1 ≤ q ≤ N`), on up to
    /// `threads` threads (`None`: all cores).
    pub fn known_to_quorum(
        &self,
        q: usize,
        threads: Option<usize>,
    ) -> Result<Vec<u64>, MatrixError> {
        let n = self.n;
        if q == 0 || q > n {
            return Err(MatrixError::QuorumOutOfRange { q, n });
        }
        let mut out = vec![0u64; n];
        let fill = |first: usize, out: &mut [u64], scratch: &mut Vec<u64>| {
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = self.quorum_of_column(first + i, q, scratch);
            }
        };
        if threads == Some(1) || n < 2 * COLUMNS_PER_TASK {
            fill(0, &mut out, &mut Vec::with_capacity(n));
        } else {
            out.par_chunks_mut(COLUMNS_PER_TASK)
                .enumerate()
                .for_each_init(
                    || Vec::with_capacity(n),
                    |scratch, (chunk, out)| fill(chunk * COLUMNS_PER_TASK, out, scratch),
                );
        }
        Ok(out)
    }

    /// The q-th largest value of one column: copy it, then select (O(N) expected).
    fn quorum_of_column(&self, sender: usize, q: usize, scratch: &mut Vec<u64>) -> u64 {
        scratch.clear();
        scratch.extend(
            self.column_slice(sender)
                .iter()
                .map(|c| c.load(Ordering::Relaxed)),
        );
        // The q-th largest is at index n - q of the ascending order.
        let index = self.n - q;
        *scratch.select_nth_unstable(index).1
    }

    /// How many observers have seen `sender`'s entry `seq`.
    pub fn acceptance(&self, sender: usize, seq: u64) -> Result<usize, MatrixError> {
        self.check(sender)?;
        Ok(self
            .column_slice(sender)
            .iter()
            .filter(|c| c.load(Ordering::Relaxed) >= seq)
            .count())
    }

    /// Pointer to the first cell, for exposing the matrix without a copy (see `py::matrix`).
    pub fn as_ptr(&self) -> *const u64 {
        // AtomicU64 has the same size, alignment and bit validity as u64.
        self.cells.as_ptr().cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_worked_example() {
        // DESIGN §4: A–B–C–D on a line; D's view after D1.
        let m = Matrix::new(4).unwrap();
        m.update_row(0, &[(0, 1)]).unwrap();
        m.update_row(1, &[(0, 1), (1, 1)]).unwrap();
        m.update_row(2, &[(0, 1), (1, 1), (2, 1)]).unwrap();
        m.update_row(3, &[(0, 1), (1, 1), (2, 1), (3, 1)]).unwrap();
        assert_eq!(m.row(1).unwrap(), vec![1, 1, 0, 0]);
        assert_eq!(m.known_to_all(), vec![1, 0, 0, 0]);
        assert_eq!(m.known_to_quorum(3, Some(1)).unwrap(), vec![1, 1, 0, 0]);
        assert_eq!(m.acceptance(1, 1).unwrap(), 3);
    }

    #[test]
    fn cells_never_decrease() {
        let m = Matrix::new(3).unwrap();
        assert_eq!(m.update_row(0, &[(1, 5)]).unwrap(), 1);
        assert_eq!(m.update_row(0, &[(1, 3)]).unwrap(), 0);
        assert_eq!(m.get(0, 1).unwrap(), 5);
    }

    #[test]
    fn a_frozen_column_stays_at_its_cap() {
        let m = Matrix::new(3).unwrap();
        m.update_row(0, &[(2, 5)]).unwrap();
        m.update_row(1, &[(2, 2)]).unwrap();
        assert_eq!(m.freeze(2, 3).unwrap(), 1);
        assert_eq!(m.column(2).unwrap(), vec![3, 2, 0]);
        assert_eq!(m.update_row(2, &[(2, 9)]).unwrap(), 1);
        assert_eq!(m.column(2).unwrap(), vec![3, 2, 3]);
        // A higher cap changes nothing; a lower one lowers again.
        assert_eq!(m.freeze(2, 4).unwrap(), 0);
        assert_eq!(m.frozen_at(2).unwrap(), Some(3));
        assert_eq!(m.freeze(2, 1).unwrap(), 3);
        assert_eq!(m.known_to_quorum(1, Some(1)).unwrap()[2], 1);
        assert_eq!(m.frozen_at(0).unwrap(), None);
    }

    #[test]
    fn errors_change_nothing() {
        let m = Matrix::new(3).unwrap();
        assert!(m.update_row(0, &[(1, 5), (3, 1)]).is_err());
        assert_eq!(m.get(0, 1).unwrap(), 0);
        assert!(m.known_to_quorum(0, None).is_err());
        assert!(m.known_to_quorum(4, None).is_err());
        assert!(Matrix::new(MAX_PEERS + 1).is_err());
    }

    #[test]
    fn parallel_quorum_matches_serial() {
        let n = 100;
        let m = Matrix::new(n).unwrap();
        for o in 0..n {
            let delta: Vec<(usize, u64)> = (0..n)
                .map(|s| (s, ((o * 31 + s * 17) % 53) as u64))
                .collect();
            m.update_row(o, &delta).unwrap();
        }
        for q in [1, 2, 50, 67, 100] {
            let serial = m.known_to_quorum(q, Some(1)).unwrap();
            assert_eq!(serial, m.known_to_quorum(q, None).unwrap());
            for (s, value) in serial.iter().enumerate() {
                let mut col = m.column(s).unwrap();
                col.sort_unstable_by(|a, b| b.cmp(a));
                assert_eq!(*value, col[q - 1]);
            }
        }
    }
}

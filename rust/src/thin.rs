//! Thin matrix products mod 2⁶⁴ for Freivalds' check of the grid's int64 kernel (DESIGN
//! §12): `r·C` for 0/1 rows `r` ([`select_sum`]) and `x·B` for a few rows `x`
//! ([`thin_product`]), each in one pass over the big matrix and on every core (numpy's own
//! int64 products use no BLAS, and no vector unit for the 64-bit multiply).
//!
//! The big matrix is cut into bands of rows, summed in parallel: each thread folds its
//! bands into its own `k` rows of accumulators, four rows of the big matrix per sweep, and
//! the accumulators are added. Every sum wraps, so the result is exact whatever the order.
//!
//! ```
//! use lattice::thin::{select_sum, thin_product};
//! let c = [1u64, 2, 3, 4]; // 2 × 2
//! assert_eq!(select_sum(&[1, 1], 1, &c, 2, 2).unwrap(), vec![4, 6]);
//! assert_eq!(thin_product(&[u64::MAX, 1], 1, &c, 2, 2).unwrap(), vec![2, 2]);
//! ```

use rayon::prelude::*;
use thiserror::Error;

/// Rows of the big matrix in one band (one task of the parallel pass).
pub const BAND_ROWS: usize = 256;
/// The most values a result may hold (`k` × columns: 2 GiB).
pub const MAX_RESULT_VALUES: usize = 1 << 28;
/// Rows of the big matrix one sweep over the accumulators folds in at once.
const SWEEP: usize = 4;

/// What a product refuses.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ThinError {
    /// A matrix's length is not its rows times its columns.
    #[error("{what} holds {len} values, not {rows} × {cols}")]
    Shape {
        /// Which operand.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The rows it should have.
        rows: usize,
        /// The columns it should have.
        cols: usize,
    },
    /// The result would hold more than [`MAX_RESULT_VALUES`] values.
    #[error("a result of {rows} × {cols} values (at most {MAX_RESULT_VALUES})")]
    TooLarge {
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
    },
    /// A selection row holds something other than 0 or 1.
    #[error("selection rows hold 0 or 1, not {0}")]
    NotBinary(u8),
}

fn result(rows: usize, cols: usize) -> Result<(), ThinError> {
    match rows.checked_mul(cols) {
        Some(n) if n <= MAX_RESULT_VALUES => Ok(()),
        _ => Err(ThinError::TooLarge { rows, cols }),
    }
}

fn shape(what: &'static str, len: usize, rows: usize, cols: usize) -> Result<(), ThinError> {
    if rows.checked_mul(cols) == Some(len) {
        Ok(())
    } else {
        Err(ThinError::Shape {
            what,
            len,
            rows,
            cols,
        })
    }
}

/// `x · big` mod 2⁶⁴ for `x` (`k × rows`) and `big` (`rows × cols`): bands of rows in
/// parallel, each thread summing into its own accumulators, which are then added.
fn banded(x: &[u64], k: usize, big: &[u64], rows: usize, cols: usize) -> Vec<u64> {
    if cols == 0 || rows == 0 {
        return vec![0; k * cols];
    }
    big.par_chunks(cols * BAND_ROWS)
        .enumerate()
        .fold(
            || vec![0u64; k * cols],
            |mut acc, (band, block)| {
                fold_band(&mut acc, block, cols, x, rows, band * BAND_ROWS);
                acc
            },
        )
        .reduce(
            || vec![0u64; k * cols],
            |mut acc, other| {
                for (a, b) in acc.iter_mut().zip(other) {
                    *a = a.wrapping_add(b);
                }
                acc
            },
        )
}

/// `acc[r] += Σ_i x[r][first + i] · block[i]` for the rows `i` of one band, [`SWEEP`] rows
/// per pass over each accumulator row (compiled for the vector units the CPU has: a
/// 64-bit multiply is one instruction with AVX-512, several without).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl",
    "x86_64+avx2",
    "aarch64+neon"
))]
fn fold_band(acc: &mut [u64], block: &[u64], cols: usize, x: &[u64], rows: usize, first: usize) {
    let sweeps = block.chunks_exact(cols * SWEEP);
    let tail = sweeps.remainder();
    for (s, sweep) in sweeps.enumerate() {
        let i = first + s * SWEEP;
        let (r0, rest) = sweep.split_at(cols);
        let (r1, rest) = rest.split_at(cols);
        let (r2, r3) = rest.split_at(cols);
        for (r, out) in acc.chunks_exact_mut(cols).enumerate() {
            let w = &x[r * rows + i..r * rows + i + SWEEP];
            let (s0, s1, s2, s3) = (w[0], w[1], w[2], w[3]);
            for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
                *o = o
                    .wrapping_add(s0.wrapping_mul(a))
                    .wrapping_add(s1.wrapping_mul(b))
                    .wrapping_add(s2.wrapping_mul(c))
                    .wrapping_add(s3.wrapping_mul(d));
            }
        }
    }
    let done = block.len() / cols - tail.len() / cols;
    for (t, row) in tail.chunks_exact(cols).enumerate() {
        let i = first + done + t;
        for (r, out) in acc.chunks_exact_mut(cols).enumerate() {
            let scale = x[r * rows + i];
            for (o, &v) in out.iter_mut().zip(row) {
                *o = o.wrapping_add(scale.wrapping_mul(v));
            }
        }
    }
}

/// `rows · c` mod 2⁶⁴: `rows` is `k × m` of 0/1 bytes, `c` is `m × n` (row-major); the
/// result is `k × n`.
pub fn select_sum(
    rows: &[u8],
    k: usize,
    c: &[u64],
    m: usize,
    n: usize,
) -> Result<Vec<u64>, ThinError> {
    shape("the selection", rows.len(), k, m)?;
    shape("the matrix", c.len(), m, n)?;
    result(k, n)?;
    if let Some(&bad) = rows.iter().find(|&&r| r > 1) {
        return Err(ThinError::NotBinary(bad));
    }
    let x: Vec<u64> = rows.iter().map(|&r| u64::from(r)).collect();
    Ok(banded(&x, k, c, m, n))
}

/// `x · b` mod 2⁶⁴: `x` is `k × n`, `b` is `n × p` (row-major); the result is `k × p`.
pub fn thin_product(
    x: &[u64],
    k: usize,
    b: &[u64],
    n: usize,
    p: usize,
) -> Result<Vec<u64>, ThinError> {
    shape("the rows", x.len(), k, n)?;
    shape("the matrix", b.len(), n, p)?;
    result(k, p)?;
    Ok(banded(x, k, b, n, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(x: &[u64], k: usize, b: &[u64], n: usize, p: usize) -> Vec<u64> {
        let mut out = vec![0u64; k * p];
        for r in 0..k {
            for j in 0..p {
                let mut s = 0u64;
                for i in 0..n {
                    s = s.wrapping_add(x[r * n + i].wrapping_mul(b[i * p + j]));
                }
                out[r * p + j] = s;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn products_equal_the_naive_sums_mod_2_64(
            k in 0usize..4, n in 0usize..600, p in 0usize..7, seed in any::<u64>()
        ) {
            let mut state = seed | 1;
            let mut next = || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state };
            let x: Vec<u64> = (0..k * n).map(|_| next()).collect();
            let b: Vec<u64> = (0..n * p).map(|_| next()).collect();
            prop_assert_eq!(thin_product(&x, k, &b, n, p).unwrap(), naive(&x, k, &b, n, p));
            let rows: Vec<u8> = (0..k * n).map(|_| (next() & 1) as u8).collect();
            let as_u64: Vec<u64> = rows.iter().map(|&r| u64::from(r)).collect();
            prop_assert_eq!(select_sum(&rows, k, &b, n, p).unwrap(), naive(&as_u64, k, &b, n, p));
        }
    }

    #[test]
    fn bad_shapes_and_selections_are_refused() {
        assert!(matches!(
            thin_product(&[1, 2], 1, &[1, 2, 3], 2, 2),
            Err(ThinError::Shape { .. })
        ));
        assert_eq!(
            select_sum(&[2], 1, &[1], 1, 1),
            Err(ThinError::NotBinary(2))
        );
        assert!(matches!(
            select_sum(&[1], 1, &[1], usize::MAX, 2),
            Err(ThinError::Shape { .. })
        ));
        assert!(matches!(
            select_sum(&[], 1 << 62, &[], 0, 4),
            Err(ThinError::TooLarge { .. })
        ));
        assert!(matches!(
            thin_product(&[], 1 << 40, &[], 0, 1 << 40),
            Err(ThinError::TooLarge { .. })
        ));
    }
}

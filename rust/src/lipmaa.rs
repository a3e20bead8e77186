//! Lipmaa links (DESIGN §2, from the Bamboo log format after Buldas–Laud).
//!
//! Entry `n` links to `n - 1` and to `lipmaa(n)`, so any two entries of one log are joined
//! by a path of O(log n) hops; certificate paths and quorum proofs (§6) are built on it.

/// The seq entry `n` links to besides `n - 1`; 0 for `n <= 1`.
///
/// ```
/// assert_eq!(lattice::lipmaa::lipmaa(40), 13);
/// ```
pub fn lipmaa(n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    // DESIGN §2's iteration walks m_j = (3^j - 1) / 2 downwards with p3 = 3^(j-1); the
    // values come from tables, and each `x %= m_j` is at most three subtractions because
    // x < m_(j+1) = 3·m_j + 1. Same results, no division (this runs once per entry).
    // k: the smallest j with m_j >= n; past the table (n > m_41) it is 42, whose m_42
    // exceeds u64 and so never equals n.
    let k = HALF_POWERS.partition_point(|&m| m < n);
    if HALF_POWERS.get(k) == Some(&n) {
        return n - POWERS[k - 1];
    }
    let (mut j, mut x) = (k - 1, n);
    let (mut m, mut p3) = (0, 0);
    while x != 0 {
        m = HALF_POWERS[j];
        p3 = POWERS[j - 1];
        j -= 1;
        while x >= m {
            x -= m;
        }
    }
    if m != p3 {
        p3 = m;
    }
    n - p3
}

/// `POWERS[j] = 3^j` for every power of three below 2^64.
const POWERS: [u64; 41] = {
    let mut out = [1u64; 41];
    let mut j = 1;
    while j < out.len() {
        out[j] = out[j - 1] * 3;
        j += 1;
    }
    out
};

/// `HALF_POWERS[j] = (3^j - 1) / 2` for every such value below 2^64 (j ≤ 41).
const HALF_POWERS: [u64; 42] = {
    let mut out = [0u64; 42];
    let mut j = 1;
    while j < 41 {
        out[j] = (POWERS[j] - 1) / 2;
        j += 1;
    }
    // (3^41 - 1) / 2 = 3·m_40 + 1 without computing 3^41.
    out[41] = 3 * out[40] + 1;
    out
};

/// True when entry `n` has a lipmaa link distinct from its `prev` link.
pub fn has_distinct_link(n: u64) -> bool {
    n > 1 && lipmaa(n) != n - 1
}

/// Errors of path queries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LipmaaError {
    /// The path must go from a later seq down to an earlier one, both at least 1.
    #[error("no path from seq {start} down to seq {end}: need start >= end >= 1")]
    BadRange {
        /// Where the path was asked to start.
        start: u64,
        /// Where it was asked to end.
        end: u64,
    },
}

/// The shortest path of seqs from `start` down to `end` using prev and lipmaa links.
///
/// Greedy is optimal here: taking the lipmaa link whenever it does not overshoot `end`
/// never lengthens the path (Buldas–Laud; Bamboo's certificate construction).
///
/// ```
/// assert_eq!(lattice::lipmaa::shortest_path(40, 1).unwrap(), vec![40, 13, 4, 1]);
/// ```
pub fn shortest_path(start: u64, end: u64) -> Result<Vec<u64>, LipmaaError> {
    if end == 0 || start < end {
        return Err(LipmaaError::BadRange { start, end });
    }
    let mut path = vec![start];
    let mut n = start;
    while n > end {
        let l = lipmaa(n);
        n = if l >= end { l } else { n - 1 };
        path.push(n);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_values() {
        assert_eq!(lipmaa(1), 0);
        assert_eq!(lipmaa(4), 1);
        assert_eq!(lipmaa(13), 4);
        assert_eq!(lipmaa(26), 13);
        assert_eq!(lipmaa(39), 26);
        assert_eq!(lipmaa(40), 13);
    }

    #[test]
    fn design_paths() {
        assert_eq!(shortest_path(40, 1).unwrap(), vec![40, 13, 4, 1]);
        assert_eq!(
            shortest_path(23, 1).unwrap(),
            vec![23, 22, 21, 17, 13, 4, 1]
        );
        assert!(shortest_path(1000, 1).unwrap().len() <= 12);
        assert_eq!(shortest_path(7, 7).unwrap(), vec![7]);
    }

    /// DESIGN §2's iteration verbatim, in u128 so it cannot overflow.
    fn reference(n: u64) -> u64 {
        let n = u128::from(n);
        let (mut m, mut p3, mut x): (u128, u128, u128) = (1, 3, n);
        while m < n {
            p3 *= 3;
            m = (p3 - 1) / 2;
        }
        p3 /= 3;
        if m != n {
            while x != 0 {
                m = (p3 - 1) / 2;
                p3 /= 3;
                x %= m;
            }
            if m != p3 {
                p3 = m;
            }
        }
        (n - p3) as u64
    }

    #[test]
    fn fast_equals_reference() {
        for n in 1..200_000u64 {
            assert_eq!(lipmaa(n), reference(n), "n = {n}");
        }
        for &m in &HALF_POWERS[1..41] {
            for n in m.saturating_sub(3)..=m.saturating_add(3) {
                if n >= 1 {
                    assert_eq!(lipmaa(n), reference(n), "n = {n}");
                }
            }
        }
        for n in [u64::MAX, u64::MAX - 1, HALF_POWERS[41], HALF_POWERS[41] + 1] {
            assert_eq!(lipmaa(n), reference(n), "n = {n}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_equals_reference_anywhere(n in 1u64..) {
            proptest::prop_assert_eq!(lipmaa(n), reference(n));
        }
    }

    #[test]
    fn links_point_backwards() {
        for n in 2..100_000u64 {
            let l = lipmaa(n);
            assert!(l < n && l >= 1, "lipmaa({n}) = {l}");
        }
        assert!(lipmaa(u64::MAX) < u64::MAX);
    }

    #[test]
    fn bad_ranges() {
        assert!(shortest_path(1, 2).is_err());
        assert!(shortest_path(5, 0).is_err());
    }
}

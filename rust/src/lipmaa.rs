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
    // Integer arithmetic of DESIGN §2 in u128: 3^k passes u64::MAX before m reaches n.
    let n128 = u128::from(n);
    let (mut m, mut p3, mut x): (u128, u128, u128) = (1, 3, n128);
    while m < n128 {
        p3 *= 3;
        m = (p3 - 1) / 2;
    }
    p3 /= 3;
    if m != n128 {
        while x != 0 {
            m = (p3 - 1) / 2;
            p3 /= 3;
            x %= m;
        }
        if m != p3 {
            p3 = m;
        }
    }
    // p3 <= n here, so the difference fits in u64.
    (n128 - p3) as u64
}

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
        assert_eq!(shortest_path(23, 1).unwrap(), vec![23, 22, 21, 17, 13, 4, 1]);
        assert!(shortest_path(1000, 1).unwrap().len() <= 12);
        assert_eq!(shortest_path(7, 7).unwrap(), vec![7]);
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

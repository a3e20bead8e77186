//! A node-wide budget for partially received frames (DESIGN §7, "bounded before trust").
//!
//! A frame's length is announced in its first four bytes, long before its last byte
//! arrives. A [`crate::noise::Channel`] given a pool reserves the announced length from it
//! the moment the header is read and gives it back when the frame is complete or the
//! channel is dropped; a header the pool cannot afford closes the connection. So the memory
//! that strangers can make a node hold in half-sent frames is the pool's capacity, however
//! many of them connect.
//!
//! ```
//! use lattice::framepool::FramePool;
//! let pool = FramePool::new(1 << 20);
//! assert!(pool.try_reserve(600 << 10).is_ok());
//! assert!(pool.try_reserve(600 << 10).is_err(), "only 424 KiB are left");
//! pool.release(600 << 10);
//! assert_eq!(pool.used(), 0);
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

/// A reservation the pool could not grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFull {
    /// Bytes asked for.
    pub want: usize,
    /// Bytes that were free.
    pub free: usize,
    /// The pool's capacity.
    pub capacity: usize,
}

/// Bytes shared by many channels, reserved and released atomically.
#[derive(Debug)]
pub struct FramePool {
    capacity: usize,
    used: AtomicUsize,
}

impl FramePool {
    /// A pool of `capacity` bytes, none of them reserved.
    pub fn new(capacity: usize) -> FramePool {
        FramePool {
            capacity,
            used: AtomicUsize::new(0),
        }
    }

    /// The pool's size in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Reserve `want` bytes, or nothing if they are not free.
    pub fn try_reserve(&self, want: usize) -> Result<(), PoolFull> {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            let free = self.capacity.saturating_sub(used);
            if want > free {
                return Err(PoolFull {
                    want,
                    free,
                    capacity: self.capacity,
                });
            }
            match self.used.compare_exchange_weak(
                used,
                used + want,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }

    /// Give back `bytes` reserved earlier.
    pub fn release(&self, bytes: usize) {
        // Saturating: a release never wraps the counter, whatever a caller does.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn reservations_never_exceed_the_capacity_across_threads() {
        let pool = Arc::new(FramePool::new(1000));
        let granted: usize = (0..8)
            .map(|_| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || (0..100).filter(|_| pool.try_reserve(7).is_ok()).count())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(granted, 1000 / 7);
        assert_eq!(pool.used(), granted * 7);
        let full = pool.try_reserve(7).unwrap_err();
        assert_eq!((full.want, full.free, full.capacity), (7, 1000 % 7, 1000));
        pool.release(usize::MAX);
        assert_eq!(pool.used(), 0, "a release saturates at zero");
    }
}

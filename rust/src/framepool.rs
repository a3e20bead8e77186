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

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

use memmap2::MmapMut;

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

/// Frames at least this long are received into a memory map of their own, returned to the
/// operating system the moment the frame is done or dropped: an allocator may keep freed
/// heap memory for reuse, and a node's memory must go back down when strangers leave.
pub const MAP_AT: usize = 256 << 10;

/// The memory of one frame being received: exactly its announced length, on the heap if
/// small, in an anonymous memory map if at least [`MAP_AT`].
#[derive(Debug)]
pub enum FrameBuf {
    /// A small frame.
    Heap(Vec<u8>),
    /// A large frame: `len` bytes of `map` are filled.
    Map {
        /// The mapping, as long as the frame.
        map: MmapMut,
        /// Bytes received so far.
        len: usize,
    },
}

impl Default for FrameBuf {
    fn default() -> FrameBuf {
        FrameBuf::Heap(Vec::new())
    }
}

impl FrameBuf {
    /// Room for a frame of exactly `len` bytes; `None` if the memory cannot be mapped.
    pub fn with_capacity(len: usize) -> Option<FrameBuf> {
        if len < MAP_AT {
            return Some(FrameBuf::Heap(Vec::with_capacity(len)));
        }
        MmapMut::map_anon(len)
            .ok()
            .map(|map| FrameBuf::Map { map, len: 0 })
    }

    /// Append `data`; false (and nothing appended) if it does not fit in a mapped frame.
    pub fn extend(&mut self, data: &[u8]) -> bool {
        match self {
            FrameBuf::Heap(v) => {
                v.extend_from_slice(data);
                true
            }
            FrameBuf::Map { map, len } => match map.get_mut(*len..*len + data.len()) {
                Some(room) => {
                    room.copy_from_slice(data);
                    *len += data.len();
                    true
                }
                None => false,
            },
        }
    }
}

impl PartialEq for FrameBuf {
    fn eq(&self, other: &FrameBuf) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<u8>> for FrameBuf {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == other[..]
    }
}

impl Deref for FrameBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FrameBuf::Heap(v) => v,
            FrameBuf::Map { map, len } => map.get(..*len).unwrap_or_default(),
        }
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

    #[test]
    fn large_frames_are_mapped_and_never_overfilled() {
        let mut small = FrameBuf::with_capacity(10).unwrap();
        assert!(matches!(small, FrameBuf::Heap(_)) && small.extend(b"abc"));
        let mut big = FrameBuf::with_capacity(MAP_AT).unwrap();
        assert!(matches!(big, FrameBuf::Map { .. }));
        assert!(big.extend(&vec![7; MAP_AT - 1]) && big.extend(&[8]));
        assert!(!big.extend(&[9]), "nothing past the announced length");
        assert_eq!(
            (big.len(), big[MAP_AT - 1], &*small),
            (MAP_AT, 8, &b"abc"[..])
        );
    }
}

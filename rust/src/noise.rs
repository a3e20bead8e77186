//! Encrypted connections (DESIGN §7): a Noise XX handshake (the `snow` crate: X25519,
//! ChaCha20-Poly1305, BLAKE2s), the hello that binds the Noise static key to a peer's
//! Ed25519 identity, and length-prefixed frames with a hard maximum size. No I/O: bytes in,
//! bytes out; the node's event loop moves them.
//!
//! ```text
//! wire     = record*
//! record   = len u16 ‖ noise message (≤ 65535 bytes; handshake or transport)
//! frame    = len u32 ‖ body, sealed across as many transport records as it needs
//! hello    = version u8 (1) ‖ role u8 ‖ swarm [32] ‖ identity [32] ‖ binding [64]
//!            ‖ attestation_len u16 ‖ attestation
//! binding  = Ed25519 signature by identity over H_noise_binding(static ‖ swarm ‖ role)
//! ```
//! The hello travels as the encrypted payload of the second (responder) and third
//! (initiator) handshake messages, so each side learns the other's identity only once the
//! Noise static key it signed is authenticated by the handshake itself.

use std::sync::Arc;

use snow::params::NoiseParams;
use snow::{Builder, HandshakeState, TransportState};
use thiserror::Error;

use crate::codec::{DecodeError, FORMAT_VERSION, Reader, SIGNATURE_LEN, at_most};
use crate::framepool::{FrameBuf, FramePool, PoolFull};
use crate::hash::Domain;
use crate::sign::{self, Item, Keypair};
use crate::{ID_LEN, Id};

/// The Noise protocol name.
pub const NOISE_PATTERN: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
/// Mixed into the handshake: both sides must speak lattice v1.
pub const PROLOGUE: &[u8] = b"lattice v1 noise xx";
/// Largest Noise message (the spec's limit).
pub const MAX_NOISE_MESSAGE: usize = 65535;
/// The authentication tag of every transport message.
pub const TAG_LEN: usize = 16;
/// Largest plaintext one transport record carries.
pub const MAX_RECORD_PLAINTEXT: usize = MAX_NOISE_MESSAGE - TAG_LEN;
/// Bytes of a record's length prefix.
pub const RECORD_HEADER_LEN: usize = 2;
/// Bytes of a frame's length prefix.
pub const FRAME_HEADER_LEN: usize = 4;
/// Largest frame body: a batch of entries, a frontier of 4096 peers, a fraud proof.
pub const MAX_FRAME_LEN: usize = 16 << 20;
/// Largest remote-attestation answer carried in a hello (DESIGN §10).
pub const MAX_ATTESTATION_LEN: usize = 4096;
/// Bytes of a hello before its attestation.
const HELLO_PREFIX_LEN: usize = 2 + ID_LEN + ID_LEN + SIGNATURE_LEN + 2;

/// What went wrong on a connection. Every one of them closes it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NoiseError {
    /// The Noise state machine refused a message (bad key, bad tag, out of order).
    #[error("noise: {0}")]
    Noise(String),
    /// A call made in the wrong phase (transport before the handshake finished, …).
    #[error("noise: {0}")]
    State(&'static str),
    /// A frame announced as larger than the maximum.
    #[error("frame of {len} bytes is above the limit of {max}")]
    FrameTooLarge {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The node-wide budget for partial frames cannot hold the frame just announced.
    #[error(
        "no room for a frame of {} bytes: {} of the node's {} bytes for partial frames are free",
        .0.want, .0.free, .0.capacity
    )]
    PoolFull(PoolFull),
    /// The peer's hello does not decode.
    #[error("malformed hello: {0}")]
    Hello(#[from] DecodeError),
}

impl From<snow::Error> for NoiseError {
    fn from(e: snow::Error) -> NoiseError {
        NoiseError::Noise(e.to_string())
    }
}

fn params() -> NoiseParams {
    // A constant that parses: checked by the tests below.
    NOISE_PATTERN
        .parse()
        .unwrap_or_else(|_| unreachable!("NOISE_PATTERN is a valid Noise name"))
}

/// An X25519 static keypair for Noise (generated per node start; the hello binds it to the
/// long-lived Ed25519 identity).
pub struct StaticKeypair {
    /// The public key, sent in the handshake.
    pub public: [u8; 32],
    secret: [u8; 32],
}

impl StaticKeypair {
    /// A fresh random keypair.
    pub fn generate() -> Result<StaticKeypair, NoiseError> {
        let kp = Builder::new(params()).generate_keypair()?;
        let mut public = [0u8; 32];
        let mut secret = [0u8; 32];
        public.copy_from_slice(&kp.public);
        secret.copy_from_slice(&kp.private);
        Ok(StaticKeypair { public, secret })
    }
}

/// The role a connecting party claims (DESIGN §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A registered peer (a super-peer with a row in the matrix).
    Peer = 1,
    /// A client of its home peer.
    Client = 2,
    /// A guest holding a shallow log (DESIGN §8).
    Guest = 3,
    /// A grid worker: a guest handed one task at a time (DESIGN §12).
    Worker = 4,
}

impl Role {
    /// The role with this wire value.
    pub fn from_u8(value: u8) -> Result<Role, DecodeError> {
        match value {
            1 => Ok(Role::Peer),
            2 => Ok(Role::Client),
            3 => Ok(Role::Guest),
            4 => Ok(Role::Worker),
            _ => Err(DecodeError::NonCanonical("unknown role")),
        }
    }
}

/// A party's hello: who it is, in which swarm and role, and its binding signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The claimed role.
    pub role: Role,
    /// The swarm the party wants to talk about.
    pub swarm: Id,
    /// The party's Ed25519 identity.
    pub identity: Id,
    /// The identity's signature over the binding message of its Noise static key.
    pub binding: [u8; SIGNATURE_LEN],
    /// The remote-attestation answer (empty until DESIGN §10 is built).
    pub attestation: Vec<u8>,
}

/// The message an identity signs to bind a Noise static key to itself in one swarm and role.
pub fn binding_message(noise_static: &[u8; 32], swarm: &Id, role: Role) -> Id {
    let mut hasher = Domain::NoiseBinding.hasher();
    hasher.update(noise_static);
    hasher.update(swarm);
    hasher.update(&[role as u8]);
    *hasher.finalize().as_bytes()
}

impl Hello {
    /// The hello of `identity` for the Noise static key `noise_static`.
    pub fn create(
        identity: &Keypair,
        noise_static: &[u8; 32],
        swarm: &Id,
        role: Role,
        attestation: Vec<u8>,
    ) -> Result<Hello, DecodeError> {
        at_most(
            "attestation length",
            attestation.len() as u64,
            MAX_ATTESTATION_LEN as u64,
        )?;
        Ok(Hello {
            role,
            swarm: *swarm,
            identity: *identity.public_key(),
            binding: identity.sign(&binding_message(noise_static, swarm, role)),
            attestation,
        })
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HELLO_PREFIX_LEN + self.attestation.len());
        out.extend_from_slice(&[FORMAT_VERSION, self.role as u8]);
        out.extend_from_slice(&self.swarm);
        out.extend_from_slice(&self.identity);
        out.extend_from_slice(&self.binding);
        // Bounded by MAX_ATTESTATION_LEN at construction and decoding.
        out.extend_from_slice(&(self.attestation.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.attestation);
        out
    }

    /// Decode exactly one hello.
    pub fn decode(bytes: &[u8]) -> Result<Hello, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("hello version")?;
        let role = Role::from_u8(r.u8("role")?)?;
        let swarm = r.array("hello swarm")?;
        let identity = r.array("hello identity")?;
        let binding = r.array("binding signature")?;
        let len = u16::from_be_bytes(r.array("attestation length")?) as usize;
        at_most("attestation length", len as u64, MAX_ATTESTATION_LEN as u64)?;
        let attestation = r.take(len, "attestation")?.to_vec();
        r.finish()?;
        Ok(Hello {
            role,
            swarm,
            identity,
            binding,
            attestation,
        })
    }

    /// True when the identity signed the binding of exactly this Noise static key (and the
    /// identity is a usable key).
    pub fn binds(&self, noise_static: &[u8; 32]) -> bool {
        sign::check_public_key(&self.identity).is_ok()
            && sign::verify(&Item {
                public_key: &self.identity,
                message: &binding_message(noise_static, &self.swarm, self.role),
                signature: &self.binding,
            })
    }
}

/// One side of a Noise XX handshake.
pub struct Handshake {
    state: HandshakeState,
}

impl Handshake {
    /// The dialling side.
    pub fn initiator(key: &StaticKeypair) -> Result<Handshake, NoiseError> {
        Ok(Handshake {
            state: Builder::new(params())
                .local_private_key(&key.secret)?
                .prologue(PROLOGUE)?
                .build_initiator()?,
        })
    }

    /// The listening side.
    pub fn responder(key: &StaticKeypair) -> Result<Handshake, NoiseError> {
        Ok(Handshake {
            state: Builder::new(params())
                .local_private_key(&key.secret)?
                .prologue(PROLOGUE)?
                .build_responder()?,
        })
    }

    /// The next handshake message, carrying `payload` (encrypted from the second message on).
    pub fn write(&mut self, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let mut out = vec![0u8; MAX_NOISE_MESSAGE];
        let len = self.state.write_message(payload, &mut out)?;
        out.truncate(len);
        Ok(out)
    }

    /// Read the peer's handshake message; returns its payload.
    pub fn read(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let mut out = vec![0u8; MAX_NOISE_MESSAGE];
        let len = self.state.read_message(message, &mut out)?;
        out.truncate(len);
        Ok(out)
    }

    /// True once all three messages have passed.
    pub fn is_finished(&self) -> bool {
        self.state.is_handshake_finished()
    }

    /// The peer's Noise static key, once it has been received.
    pub fn remote_static(&self) -> Option<[u8; 32]> {
        self.state
            .get_remote_static()
            .and_then(|k| k.try_into().ok())
    }

    /// The handshake hash: unique to this connection (channel binding).
    pub fn handshake_hash(&self) -> Vec<u8> {
        self.state.get_handshake_hash().to_vec()
    }

    /// The encrypted channel, once the handshake is finished.
    pub fn into_channel(self) -> Result<Channel, NoiseError> {
        if !self.state.is_handshake_finished() {
            return Err(NoiseError::State("the handshake is not finished"));
        }
        Ok(Channel {
            state: self.state.into_transport_mode()?,
            header: Vec::new(),
            body: FrameBuf::default(),
            expected: None,
            max_frame: MAX_FRAME_LEN,
            pool: None,
            reserved: 0,
            closed: false,
        })
    }
}

/// An established encrypted channel: frames in, records out, and back.
///
/// Frames it receives are bounded twice: by its own maximum (the largest legal message of
/// the party's role, [`MAX_FRAME_LEN`] unless [`Channel::limit`] lowers it) and, when it has
/// one, by a [`FramePool`] shared with other channels, from which the announced length is
/// reserved as soon as a frame's header arrives.
pub struct Channel {
    state: TransportState,
    // The frame header being read (a hostile sender may split it across records), the body
    // being reassembled, and its announced length once the header is complete.
    header: Vec<u8>,
    body: FrameBuf,
    expected: Option<usize>,
    max_frame: usize,
    pool: Option<Arc<FramePool>>,
    // Bytes held in `pool` for the frame in progress.
    reserved: usize,
    // Set by `abandon`: nothing is opened after it, so nothing is reserved again.
    closed: bool,
}

impl Channel {
    /// Seal one frame (at most [`MAX_FRAME_LEN`] bytes) into wire records, each with its
    /// length prefix.
    pub fn seal(&mut self, body: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if body.len() > MAX_FRAME_LEN {
            return Err(NoiseError::FrameTooLarge {
                len: body.len(),
                max: MAX_FRAME_LEN,
            });
        }
        let mut plain = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
        // Bounded by MAX_FRAME_LEN above.
        plain.extend_from_slice(&(body.len() as u32).to_be_bytes());
        plain.extend_from_slice(body);
        let records = plain.len().div_ceil(MAX_RECORD_PLAINTEXT);
        let mut out = Vec::with_capacity(plain.len() + records * (RECORD_HEADER_LEN + TAG_LEN));
        let mut buf = vec![0u8; MAX_NOISE_MESSAGE];
        for chunk in plain.chunks(MAX_RECORD_PLAINTEXT) {
            let len = self.state.write_message(chunk, &mut buf)?;
            // A transport message is at most MAX_NOISE_MESSAGE (u16) bytes.
            out.extend_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&buf[..len]);
        }
        Ok(out)
    }

    /// Seal one record of arbitrary plaintext (at most [`MAX_RECORD_PLAINTEXT`] bytes),
    /// with its length prefix: not a frame. For tools and tests that must speak a broken
    /// protocol on purpose (a frame header announcing too much, say).
    pub fn seal_record(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if plaintext.len() > MAX_RECORD_PLAINTEXT {
            return Err(NoiseError::State("record plaintext above the Noise limit"));
        }
        let mut buf = vec![0u8; MAX_NOISE_MESSAGE];
        let len = self.state.write_message(plaintext, &mut buf)?;
        let mut out = Vec::with_capacity(RECORD_HEADER_LEN + len);
        // At most MAX_NOISE_MESSAGE (u16) bytes.
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&buf[..len]);
        Ok(out)
    }

    /// Bound the frames this channel accepts from now on: at most `max_frame` bytes each
    /// (capped at [`MAX_FRAME_LEN`]), and, with a pool, only while the pool has room for
    /// the announced length. Only between frames: a frame in progress keeps its terms.
    pub fn limit(
        &mut self,
        max_frame: usize,
        pool: Option<Arc<FramePool>>,
    ) -> Result<(), NoiseError> {
        if self.closed {
            return Err(NoiseError::State("the channel is closed"));
        }
        if self.receiving() {
            return Err(NoiseError::State(
                "a channel's limits change only between frames",
            ));
        }
        self.max_frame = max_frame.min(MAX_FRAME_LEN);
        self.pool = pool;
        Ok(())
    }

    /// The largest frame this channel accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// True while a frame has begun (some of its header or body arrived) but is not complete.
    pub fn receiving(&self) -> bool {
        !self.header.is_empty() || self.expected.is_some()
    }

    /// Open one record (without its length prefix). Returns the frame it completes, if any.
    /// A record that fails authentication, a frame announced above the limit, or one the
    /// pool cannot hold, is an error: the connection must be closed.
    pub fn open(&mut self, record: &[u8]) -> Result<Option<FrameBuf>, NoiseError> {
        if self.closed {
            return Err(NoiseError::State("the channel is closed"));
        }
        let mut buf = vec![0u8; MAX_NOISE_MESSAGE];
        let len = self.state.read_message(record, &mut buf)?;
        let mut plain = &buf[..len];
        let want = match self.expected {
            Some(want) => want,
            None => {
                let take = (FRAME_HEADER_LEN - self.header.len()).min(plain.len());
                self.header.extend_from_slice(&plain[..take]);
                plain = &plain[take..];
                if self.header.len() < FRAME_HEADER_LEN {
                    return Ok(None);
                }
                let mut header = [0u8; FRAME_HEADER_LEN];
                header.copy_from_slice(&self.header);
                self.header.clear();
                let announced = u32::from_be_bytes(header) as usize;
                self.begin(announced)?;
                announced
            }
        };
        if self.body.len() + plain.len() > want || !self.body.extend(plain) {
            // Frames start on record boundaries: anything else is malformed.
            return Err(NoiseError::State("a record runs past the end of its frame"));
        }
        if self.body.len() < want {
            return Ok(None);
        }
        self.expected = None;
        self.give_back();
        Ok(Some(std::mem::take(&mut self.body)))
    }

    /// Close the receiving side for good: drop the frame in progress, if any, and give its
    /// reservation back (the connection is closing: its memory must not wait for the
    /// channel to be dropped). Records opened after this are refused, so nothing is
    /// reserved again.
    pub fn abandon(&mut self) {
        self.closed = true;
        self.header = Vec::new();
        self.body = FrameBuf::default();
        self.expected = None;
        self.give_back();
    }

    // A frame of `announced` bytes begins: check it against the limit and the pool, then
    // allocate it whole (memory then matches what the pool accounts for).
    fn begin(&mut self, announced: usize) -> Result<(), NoiseError> {
        if announced > self.max_frame {
            return Err(NoiseError::FrameTooLarge {
                len: announced,
                max: self.max_frame,
            });
        }
        if let Some(pool) = &self.pool {
            pool.try_reserve(announced).map_err(NoiseError::PoolFull)?;
            self.reserved = announced;
        }
        // Reserved above, so an allocation failure is the machine's, not the sender's.
        self.body = FrameBuf::with_capacity(announced)
            .ok_or(NoiseError::State("cannot map memory for a frame"))?;
        self.expected = Some(announced);
        Ok(())
    }

    fn give_back(&mut self) {
        if let Some(pool) = &self.pool {
            pool.release(self.reserved);
        }
        self.reserved = 0;
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Handshake, Handshake, StaticKeypair, StaticKeypair) {
        let (ki, kr) = (
            StaticKeypair::generate().unwrap(),
            StaticKeypair::generate().unwrap(),
        );
        (
            Handshake::initiator(&ki).unwrap(),
            Handshake::responder(&kr).unwrap(),
            ki,
            kr,
        )
    }

    #[test]
    fn xx_handshake_binds_identities_and_carries_frames() {
        let (mut i, mut r, ki, kr) = pair();
        let alice = Keypair::from_seed(&[1; 32]);
        let bob = Keypair::from_seed(&[2; 32]);
        let swarm = [7; 32];
        let m1 = i.write(&[]).unwrap();
        assert!(r.read(&m1).unwrap().is_empty());
        let hr = Hello::create(&bob, &kr.public, &swarm, Role::Peer, vec![]).unwrap();
        let m2 = r.write(&hr.encode()).unwrap();
        let got = Hello::decode(&i.read(&m2).unwrap()).unwrap();
        assert_eq!(got, hr);
        assert!(got.binds(&i.remote_static().unwrap()));
        assert!(
            !got.binds(&ki.public),
            "a binding of another static key fails"
        );
        let hi = Hello::create(&alice, &ki.public, &swarm, Role::Client, vec![9; 3]).unwrap();
        let m3 = i.write(&hi.encode()).unwrap();
        let got = Hello::decode(&r.read(&m3).unwrap()).unwrap();
        assert!(got.binds(&r.remote_static().unwrap()));
        assert_eq!(i.handshake_hash(), r.handshake_hash());
        let (mut ci, mut cr) = (i.into_channel().unwrap(), r.into_channel().unwrap());
        for size in [
            0,
            1,
            MAX_RECORD_PLAINTEXT - 4,
            MAX_RECORD_PLAINTEXT,
            200_000,
        ] {
            let body: Vec<u8> = (0..size).map(|x| x as u8).collect();
            let wire = ci.seal(&body).unwrap();
            let mut rest = &wire[..];
            let mut out = None;
            while !rest.is_empty() {
                let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
                assert!(out.is_none(), "one frame per seal");
                out = cr.open(&rest[2..2 + len]).unwrap();
                rest = &rest[2 + len..];
            }
            assert_eq!(out.unwrap(), body);
        }
    }

    fn established() -> (Channel, Channel) {
        let (mut i, mut r, _, _) = pair();
        r.read(&i.write(&[]).unwrap()).unwrap();
        i.read(&r.write(&[]).unwrap()).unwrap();
        r.read(&i.write(&[]).unwrap()).unwrap();
        (i.into_channel().unwrap(), r.into_channel().unwrap())
    }

    #[test]
    fn tampering_and_oversize_are_errors() {
        let (mut i, mut r, _, _) = pair();
        r.read(&i.write(&[]).unwrap()).unwrap();
        i.read(&r.write(&[]).unwrap()).unwrap();
        let mut m3 = i.write(&[]).unwrap();
        m3[40] ^= 1;
        assert!(r.read(&m3).is_err(), "a tampered handshake message");
        assert!(i.into_channel().is_ok() && r.into_channel().is_err());
        let (mut ci, mut cr) = established();
        assert!(matches!(
            ci.seal(&vec![0; MAX_FRAME_LEN + 1]),
            Err(NoiseError::FrameTooLarge { .. })
        ));
        let mut wire = ci.seal(b"hello").unwrap();
        wire[5] ^= 1;
        assert!(cr.open(&wire[2..]).is_err(), "a tampered record");
    }

    #[test]
    fn a_frame_announced_above_the_limit_is_refused_before_it_is_buffered() {
        let (mut ci, mut cr) = established();
        // A record whose plaintext claims a huge frame.
        let record = ci.seal_record(&u32::MAX.to_be_bytes()).unwrap();
        assert!(matches!(
            cr.open(&record[RECORD_HEADER_LEN..]),
            Err(NoiseError::FrameTooLarge { .. })
        ));
    }

    fn record_again(a: &mut Channel, len: u32) -> Vec<u8> {
        a.seal_record(&len.to_be_bytes()).unwrap()
    }

    #[test]
    fn a_role_limit_and_a_shared_pool_bound_partial_frames() {
        let pool = Arc::new(FramePool::new(100));
        let (mut a, mut b) = established();
        let (mut c, mut d) = established();
        b.limit(64, Some(Arc::clone(&pool))).unwrap();
        d.limit(64, Some(Arc::clone(&pool))).unwrap();
        assert!(matches!(
            b.open(&a.seal(&[7; 65]).unwrap()[RECORD_HEADER_LEN..]),
            Err(NoiseError::FrameTooLarge { len: 65, max: 64 })
        ));
        // A header split across records, then half a frame of 60: 60 bytes reserved.
        let (mut a, mut b) = established();
        b.limit(64, Some(Arc::clone(&pool))).unwrap();
        let header = 60u32.to_be_bytes();
        assert_eq!(
            b.open(&a.seal_record(&header[..1]).unwrap()[2..]).unwrap(),
            None
        );
        assert!(b.receiving() && pool.used() == 0);
        assert_eq!(
            b.open(&a.seal_record(&header[1..]).unwrap()[2..]).unwrap(),
            None
        );
        assert_eq!(pool.used(), 60);
        assert!(
            b.limit(16, None).is_err(),
            "limits change between frames only"
        );
        // The other channel's 50-byte frame does not fit beside it.
        let record = c.seal_record(&50u32.to_be_bytes()).unwrap();
        assert!(matches!(
            d.open(&record[2..]),
            Err(NoiseError::PoolFull(PoolFull {
                want: 50,
                free: 40,
                capacity: 100
            }))
        ));
        // Finishing the frame gives the bytes back; so does dropping a half-received one.
        assert_eq!(
            b.open(&a.seal_record(&[1; 60]).unwrap()[2..])
                .unwrap()
                .map(|f| f.to_vec()),
            Some(vec![1; 60])
        );
        assert_eq!(pool.used(), 0);
        let record = a.seal_record(&[0, 0, 0, 30, 9, 9]).unwrap();
        assert_eq!(b.open(&record[2..]).unwrap(), None);
        assert_eq!(pool.used(), 30);
        b.abandon();
        assert!(!b.receiving() && pool.used() == 0);
        assert!(
            b.open(&record_again(&mut a, 30)[2..]).is_err(),
            "closed for good"
        );
        assert!(b.limit(8, Some(Arc::clone(&pool))).is_err());
        assert_eq!(pool.used(), 0);
        // Dropping a channel with a frame in progress gives its bytes back too.
        let (mut a, mut b) = established();
        b.limit(64, Some(Arc::clone(&pool))).unwrap();
        assert_eq!(b.open(&record_again(&mut a, 30)[2..]).unwrap(), None);
        assert_eq!(pool.used(), 30);
        drop(b);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn hello_decoding_is_canonical() {
        let k = Keypair::from_seed(&[3; 32]);
        let hello = Hello::create(&k, &[5; 32], &[6; 32], Role::Guest, vec![1, 2]).unwrap();
        let bytes = hello.encode();
        assert_eq!(Hello::decode(&bytes).unwrap(), hello);
        for cut in 0..bytes.len() {
            assert!(Hello::decode(&bytes[..cut]).is_err());
        }
        let mut role = bytes.clone();
        role[1] = 9;
        assert!(Hello::decode(&role).is_err());
        let mut long = bytes;
        long.push(0);
        assert!(Hello::decode(&long).is_err());
        assert!(params().name == NOISE_PATTERN);
    }
}

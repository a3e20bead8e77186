//! The only pyo3 code: thin bindings from `lattice._lattice` to the pure core (DESIGN §1).
//!
//! Each binding converts its arguments, releases the GIL for long work, calls the core and
//! maps the core's error through [`errors`], the one place where Rust errors become the
//! Python exception classes of `lattice.errors`.

mod buf;
mod client;
mod entry;
mod errors;
mod fraud;
mod frontier;
mod hash;
mod matrix;
mod merkle;
mod noise;
mod pow;
mod sign;
mod text;
mod thin;

use pyo3::prelude::*;

use crate::codec;

/// Inputs longer than this are hashed or decoded with the GIL released; below it the
/// hand-off costs more than it frees.
pub(crate) const RELEASE_GIL_BYTES: usize = 64 * 1024;

#[pymodule]
fn _lattice(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("HEADER_LEN", codec::HEADER_LEN)?;
    m.add("SIGNATURE_LEN", codec::SIGNATURE_LEN)?;
    m.add("SIGNED_HEADER_LEN", codec::SIGNED_HEADER_LEN)?;
    m.add("ID_LEN", crate::ID_LEN)?;
    m.add("DEP_LEN", codec::DEP_LEN)?;
    m.add("MAX_DEPS", codec::MAX_DEPS)?;
    m.add("MAX_PAYLOAD_LEN", codec::MAX_PAYLOAD_LEN)?;
    m.add("MAX_ENTRY_LEN", codec::MAX_ENTRY_LEN)?;
    m.add("FORMAT_VERSION", codec::FORMAT_VERSION)?;
    m.add("KIND_DATA", codec::Kind::Data as u8)?;
    m.add("KIND_NOOP", codec::Kind::Noop as u8)?;
    m.add("KIND_WRAP", codec::Kind::Wrap as u8)?;
    m.add("KIND_FRAUD", codec::Kind::Fraud as u8)?;
    m.add("KIND_ATTESTATION", codec::Kind::Attestation as u8)?;
    m.add("KIND_SNAPSHOT", codec::Kind::Snapshot as u8)?;
    m.add("KIND_BLOB", codec::Kind::Blob as u8)?;
    m.add("KIND_ADMISSION", codec::Kind::Admission as u8)?;
    m.add("KIND_VOUCH", codec::Kind::Vouch as u8)?;
    hash::register(m)?;
    sign::register(m)?;
    entry::register(m)?;
    merkle::register(m)?;
    client::register(m)?;
    fraud::register(m)?;
    frontier::register(m)?;
    matrix::register(m)?;
    noise::register(m)?;
    pow::register(m)?;
    thin::register(m)?;
    text::register(m)?;
    Ok(())
}

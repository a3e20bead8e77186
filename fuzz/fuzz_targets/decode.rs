//! Every Rust decoder on every input: see `lattice::fuzzing::check_decoders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lattice::fuzzing::check_decoders(data);
});

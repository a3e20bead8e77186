//! Every input the coverage-guided fuzzer (`make fuzz`) ever crashed on is kept under
//! `fuzz/regressions/decode/` and replayed here on every `cargo test`, so a fixed crash
//! stays fixed.

use std::fs;
use std::path::Path;

#[test]
fn fuzz_crashes_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/decode");
    let mut replayed = 0;
    for entry in fs::read_dir(&dir).expect("fuzz/regressions/decode exists") {
        let path = entry.expect("readable directory").path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = fs::read(&path).expect("readable regression input");
        lattice::fuzzing::check_decoders(&data);
        replayed += 1;
    }
    // The inputs found so far (see fuzz/regressions/decode/README.md): none may vanish.
    assert!(
        replayed >= 1,
        "no regression inputs under {}",
        dir.display()
    );
}

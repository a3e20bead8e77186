#!/usr/bin/env bash
# make fuzz: run the coverage-guided fuzz target over the Rust decoders for a fixed time
# (FUZZ_SECONDS), starting from a seed corpus of valid encodings. Any crash is copied to
# fuzz/regressions/decode/, which `cargo test` replays from then on, and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-300}
python=${PYTHON:-.venv/bin/python}
cargo_fuzz=${CARGO_FUZZ:-.tools/bin/cargo-fuzz}

if [[ ! -x $cargo_fuzz ]]; then
    echo "installing cargo-fuzz into .tools/" >&2
    cargo install cargo-fuzz --locked --version 0.13.2 --root .tools
fi
corpus=fuzz/corpus/decode
mkdir -p "$corpus" fuzz/artifacts/decode
"$python" scripts/fuzz_seeds.py "$corpus"
before=$(find fuzz/artifacts/decode -type f | wc -l)

# cargo-fuzz needs unstable rustc flags; RUSTC_BOOTSTRAP lets the pinned stable toolchain
# take them. No sanitizer: the decoders are safe Rust, coverage is what matters.
status=0
(cd fuzz && RUSTC_BOOTSTRAP=1 "../$cargo_fuzz" run --sanitizer none decode corpus/decode -- \
    -max_total_time="$seconds" -max_len=8192 -print_final_stats=1) 2>&1 | tee fuzz/last-run.log \
    | grep -E '^(#[0-9]+ +(INITED|DONE)|stat::|==[0-9]+== ERROR|SUMMARY|Done)' || true
status=${PIPESTATUS[0]}

found=0
for crash in fuzz/artifacts/decode/*; do
    [[ -f $crash ]] || continue
    name=$(basename "$crash")
    if [[ ! -f fuzz/regressions/decode/$name ]]; then
        cp "$crash" "fuzz/regressions/decode/$name"
        echo "kept $name as a regression test (fuzz/regressions/decode/)" >&2
        found=$((found + 1))
    fi
done
after=$(find fuzz/artifacts/decode -type f | wc -l)
echo "make fuzz: ${seconds}s, corpus $(find "$corpus" -type f | wc -l) inputs, $((after - before)) new crash(es)"
if [[ $status -ne 0 || $found -ne 0 ]]; then
    echo "make fuzz: FAILED (see fuzz/last-run.log)" >&2
    exit 1
fi

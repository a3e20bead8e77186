#!/usr/bin/env bash
# Build lattice's wheel reproducibly (DESIGN §10): pinned toolchain (rust-toolchain.toml)
# and maturin (pyproject.toml), --locked, SBOM off, paths remapped, timestamps from the
# last commit, fixed manylinux tag. Usage: build-wheel.sh SOURCE_DIR OUT_DIR
set -euo pipefail

src=$(cd "$1" && pwd)
out=$2
mkdir -p "$out"
out=$(cd "$out" && pwd)
maturin=${MATURIN:-$src/.venv/bin/maturin}
[ -x "$maturin" ] || maturin=$(command -v maturin)

# Everything that could leak the build location or time into the binary is pinned.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct)}
export CARGO_TARGET_DIR="$src/target/wheel"
sysroot=$(cd "$src" && rustc --print sysroot)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export RUSTFLAGS="--remap-path-prefix=$src=/lattice \
 --remap-path-prefix=$cargo_home=/cargo \
 --remap-path-prefix=$sysroot=/rustc \
 -C link-arg=-Wl,--build-id=none"
export CARGO_INCREMENTAL=0
export PYTHONHASHSEED=0
export TZ=UTC LC_ALL=C

# zig (the ziglang package from PyPI, pinned in pyproject.toml) links against glibc 2.28
# whatever the build machine's glibc is; maturin finds it through the venv's python.
export PATH="$(dirname "$maturin"):$PATH"
# manylinux_2_28 covers every distribution with glibc >= 2.28 (Debian 10+, RHEL 8+).
cd "$src"
"$maturin" build --release --locked --zig --compatibility manylinux_2_28 --out "$out" --quiet
ls "$out"/*.whl

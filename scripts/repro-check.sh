#!/usr/bin/env bash
# Build the wheel twice, from two copies of the committed tree in two different
# directories, and fail unless the wheels are byte-identical. On a difference, diffoscope
# (Debian's diffoscope-minimal) explains it.
set -euo pipefail

root=$(git rev-parse --show-toplevel)
work=${REPRO_DIR:-$root/.repro}
rm -rf "$work"
mkdir -p "$work"

for dir in first/lattice second/deeper/lattice-copy; do
    mkdir -p "$work/$dir"
    # The committed tree only: what a user building from source gets.
    git -C "$root" archive --format=tar HEAD | tar -x -C "$work/$dir"
    # git archive has no .git: give each copy the commit time the build reads.
    (cd "$work/$dir" && git init -q && git add -A \
        && GIT_COMMITTER_DATE="@$(git -C "$root" log -1 --format=%ct)" \
           GIT_AUTHOR_DATE="@$(git -C "$root" log -1 --format=%ct)" \
           git -c user.name=repro -c user.email=repro@lattice.invalid commit -qm repro)
    MATURIN="$root/.venv/bin/maturin" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
        bash "$root/scripts/build-wheel.sh" "$work/$dir" "$work/$dir/dist" >/dev/null
done

a=$(ls "$work"/first/lattice/dist/*.whl)
b=$(ls "$work"/second/deeper/lattice-copy/dist/*.whl)
sha256sum "$a" "$b"
if cmp -s "$a" "$b"; then
    echo "repro-check: identical wheels ($(basename "$a"), $(sha256sum < "$a" | cut -c1-16))"
    # Each copy's builder attests its own wheel (lattice attest wheel); the two
    # attestations match, so with N = 2 they admit the wheel.
    lattice="$root/.venv/bin/lattice"
    trust=()
    for side in "first/lattice:$a" "second/deeper/lattice-copy:$b"; do
        dir=${side%%:*} wheel=${side#*:}
        key="$work/$(dirname "$dir" | tr / -).key"
        "$lattice" keygen --out "$key" --no-password >/dev/null
        "$lattice" attest wheel "$wheel" --identity "$key" --root "$work/$dir"
        trust+=(--trust "$(basename "$key" .key)=$("$lattice" key show "$key")")
    done
    "$lattice" attest verify "$a.intoto.json" "$b.intoto.json" "${trust[@]}" \
        --threshold 2 --blob "$a"
    # The wheel installs into a fresh virtualenv and works with no Rust toolchain in reach.
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet "$a"
    (cd "$work" && env -i PATH=/usr/bin:/bin HOME="$work" "$work/venv/bin/python" -c '
import shutil
assert shutil.which("cargo") is None and shutil.which("rustc") is None, "Rust is in reach"
import lattice
ident = lattice.Identity.generate()
assert lattice.verify_batch([ident.public_key], [b"m"], [ident.sign(b"m")]) == [True]
print("repro-check: the wheel installs and imports without Rust:", lattice.__version__)
')
    exit 0
fi
echo "repro-check: the two wheels DIFFER" >&2
if ! command -v diffoscope >/dev/null; then
    apt-get update -qq && apt-get install -y -qq diffoscope-minimal >/dev/null
fi
diffoscope "$a" "$b" || true
exit 1

#!/usr/bin/env bash
# nix/check.sh: proves that flake.nix and nix/ parse and evaluate (DESIGN §10).
#
# Usage: bash nix/check.sh          (from anywhere in the repository)
#
# These machines have no binary cache, no network for fetching nixpkgs and
# an empty Nix store, so no real build can happen. The script puts
# nix/stub-nixpkgs in place of the flake's only input, nixpkgs
# (--override-input). In the stub every package is a real derivation that can
# be instantiated but not built. The script then shows:
#   1. the flake parses, has the one input `nixpkgs`, and locks against the
#      stub without fetching anything;
#   2. `nix flake show` lists the packages, devShells and checks;
#   3. on x86_64-linux and aarch64-linux, every output of packages, devShells
#      and checks evaluates to a derivation whose .drv is written to the store
#      and reads back. The package's derivation carries the
#      reproducible-build settings: SOURCE_DATE_EPOCH equal to the commit
#      time, --remap-path-prefix, --locked;
#   4. with --impure and LATTICE_VECTORS set, the pytest check gets the
#      test vectors, which live outside the repository (tests/vectors.py);
#   5. `nix flake check --no-build` passes on every system.
# It does not show that real nixpkgs builds the package (see nix/README.md).
#
# The flake is read as a git flake, as Nix users see it, so only tracked
# files count. Any committed flake.lock is ignored (the stub overrides it)
# and never written. Nothing in the work tree changes.
#
# Nix: any version from 2.8 on. If nix is missing and we are root, the script
# installs Debian's nix-bin. Nothing is built, so the store at /nix (created
# on first use) needs no build users. Other users get a throwaway store in a
# temporary folder.
#
# Fails loudly, with a non-zero exit status, on any error.
set -Eeuo pipefail

current_step="setup"
step() {
  current_step=$*
  printf '\n==> %s\n' "$*"
}
fail() {
  printf '\nnix/check.sh: FAILED in step "%s": %s\n' "$current_step" "$*" >&2
  exit 1
}
on_error() {
  local status=$?
  # In a $(...) subshell, leave the report to the main shell, which fails next.
  [ "$BASH_SUBSHELL" -eq 0 ] || exit "$status"
  printf '\nnix/check.sh: FAILED in step "%s" (exit %s): %s\n' "$current_step" "$status" "$BASH_COMMAND" >&2
  exit "$status"
}
trap on_error ERR

started=$SECONDS
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# ── Nix ──────────────────────────────────────────────────────────────────────
if ! command -v nix >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "nix is not installed and we are not root; install Debian's nix-bin first"
  step "installing Debian's nix-bin"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No recommends: nix-setup-systemd's daemon and build users are for
  # building, and this script builds nothing.
  apt-get install -y -qq --no-install-recommends nix-bin >/dev/null
  command -v nix >/dev/null 2>&1 || fail "nix-bin installed, but there is no nix on PATH"
fi
nix_version=$(nix --version)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lattice-nix-check.XXXXXX")
cleanup() {
  # A chroot store's files are read-only, as in /nix/store.
  chmod -R u+w "$tmp" 2>/dev/null || true
  rm -rf "$tmp" || true
}
trap cleanup EXIT
# A private cache, so that no evaluation or fetcher cache from an earlier run
# is used.
export XDG_CACHE_HOME="$tmp/cache"

nix_opts=(
  --extra-experimental-features 'nix-command flakes'
  # No binary cache, registry or tarball can be reached. Settle that at once
  # rather than waiting for timeouts.
  --offline
  --option substituters ''
  --option use-registries false
  # Nothing is built, so the nixbld group (which may not exist) is not needed.
  --option build-users-group ''
  # Evaluation must not need a build (import-from-derivation), because
  # nothing can be built here, and a well-behaved flake never needs it.
  --option allow-import-from-derivation false
  # Evaluate for real on every run.
  --option eval-cache false
  --option warn-dirty false
)
if [ "$(id -u)" != 0 ]; then
  # Non-root users cannot create /nix. A chroot store keeps the /nix/store
  # paths (so .drv paths are the usual ones) but lives in $tmp.
  nix_opts+=(--store "$tmp/nix-root")
fi
nixc() { nix "${nix_opts[@]}" "$@"; }
# `nix show-derivation` became `nix derivation show` in Nix 2.15.
if nixc derivation show --help >/dev/null 2>&1; then
  show_drv=(derivation show)
else
  show_drv=(show-derivation)
fi

# ── The flake, and the stub in place of nixpkgs ──────────────────────────────
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # A git flake sees only tracked files. Say which ones are missing, instead
  # of leaving that to Nix's "does not exist" errors.
  required=(flake.nix nix/package.nix nix/shell.nix nix/checks.nix nix/toolchain.nix
    nix/stub-nixpkgs/flake.nix nix/stub-nixpkgs/lib.nix nix/stub-nixpkgs/pkgs.nix
    pyproject.toml Cargo.toml Cargo.lock rust-toolchain.toml)
  untracked=()
  for f in "${required[@]}"; do
    git -C "$root" ls-files --error-unmatch -- "$f" >/dev/null 2>&1 || untracked+=("$f")
  done
  [ ${#untracked[@]} -eq 0 ] ||
    fail "not tracked by git, so invisible to the flake: ${untracked[*]} (git add them, or run this in a clone)"
  flake="git+file://$root"
  commit_time=$(git -C "$root" log -1 --format=%ct 2>/dev/null) ||
    fail "the repository has no commit yet; a git flake needs one"
else
  flake="path:$root"
  commit_time=""
fi
stub="path:$root/nix/stub-nixpkgs"
flake_opts=(--override-input nixpkgs "$stub" --no-write-lock-file)

# Files that Nix could write (a lock file above all) must be as they were.
tree_state() { git -C "$root" status --porcelain --untracked-files=all -- flake.lock flake.nix nix 2>/dev/null || true; }
tree_before=$(tree_state)

printf 'nix/check.sh: %s\n  flake: %s\n  nixpkgs: %s (stub)\n' "$nix_version" "$flake" "$stub"

# ── 1. Parse and lock ───────────────────────────────────────────────────────
step "flake metadata: parse flake.nix and lock its inputs against the stub"
nixc flake metadata "${flake_opts[@]}" "$flake"

step "inputs: nixpkgs and nothing else"
inputs=$(nixc eval --raw --impure --expr "builtins.concatStringsSep \" \" (builtins.attrNames (import $root/flake.nix).inputs)")
[ "$inputs" = "nixpkgs" ] || fail "the flake must have exactly one input, nixpkgs; it has: $inputs"
echo "inputs: $inputs"

# ── 2. Show ─────────────────────────────────────────────────────────────────
step "flake show"
nixc flake show --quiet "${flake_opts[@]}" "$flake"

# ── 3. Instantiate every output on the Linux systems ────────────────────────
# Prints "<name> <drvPath>" for each attribute of the output set. Reading
# .drvPath writes the .drv file to the store.
drv_list='set: builtins.concatStringsSep "\n" (builtins.attrValues (builtins.mapAttrs (name: d: "${name} ${d.drvPath}") set))'
for system in x86_64-linux aarch64-linux; do
  for output in packages devShells checks; do
    step "$output.$system: instantiate every derivation"
    list=$(nixc eval --raw "${flake_opts[@]}" "$flake#$output.$system" --apply "$drv_list")
    [ -n "$list" ] || fail "$output.$system is empty"
    while read -r name drv; do
      case "$drv" in
        /nix/store/*.drv) ;;
        *) fail "$output.$system.$name: expected a .drv path, got '$drv'" ;;
      esac
      # Read the .drv back from the store: proves that it was written and is whole.
      nixc "${show_drv[@]}" "$drv" >/dev/null
      printf '  %-12s %s\n' "$name" "$drv"
    done <<<"$list"
    names=" $(cut -d' ' -f1 <<<"$list" | tr '\n' ' ')"
    case "$output" in
      packages) want="default lattice wheel" ;;
      devShells) want="default" ;;
      checks) want="lattice pytest cargo-test" ;;
    esac
    for w in $want; do
      [[ "$names" == *" $w "* ]] || fail "$output.$system has no '$w' (it has:$names)"
    done
  done
done

step "packages.x86_64-linux.default: reproducible-build settings (DESIGN §10)"
drv=$(nixc eval --raw "${flake_opts[@]}" "$flake#packages.x86_64-linux.default.drvPath")
drv_json=$(nixc "${show_drv[@]}" "$drv")
sde=$(grep -oE '"SOURCE_DATE_EPOCH": *"[0-9]+"' <<<"$drv_json" | grep -oE '[0-9]+') ||
  fail "the package derivation has no numeric SOURCE_DATE_EPOCH"
if [ -n "$commit_time" ]; then
  [ "$sde" = "$commit_time" ] || fail "SOURCE_DATE_EPOCH is $sde, but the commit time is $commit_time"
fi
echo "SOURCE_DATE_EPOCH=$sde"
grep -q -- '--remap-path-prefix=' <<<"$drv_json" || fail "the package derivation does not set --remap-path-prefix"
grep -q -- '--locked' <<<"$drv_json" || fail "the package derivation does not pass --locked"
echo "--remap-path-prefix and --locked: present"

# ── 4. The test vectors, with --impure ─────────────────────────────────────
step "checks.x86_64-linux.pytest: LATTICE_VECTORS with --impure brings the test vectors in"
mkdir -p "$tmp/vectors"
echo "stand-in for shared/vectors" >"$tmp/vectors/MANIFEST.txt"
pure=$(nixc eval --raw "${flake_opts[@]}" "$flake#checks.x86_64-linux.pytest.drvPath")
with_vectors=$(LATTICE_VECTORS="$tmp/vectors" nixc eval --raw --impure "${flake_opts[@]}" \
  "$flake#checks.x86_64-linux.pytest.drvPath")
nixc "${show_drv[@]}" "$with_vectors" | grep -qE '"LATTICE_VECTORS": *"/nix/store/[^"]+-lattice-vectors"' ||
  fail "with LATTICE_VECTORS set, the pytest check does not get the vectors from the store"
[ "$pure" != "$with_vectors" ] || fail "the pytest check is the same with and without the vectors"
echo "pure:         $pure"
echo "with vectors: $with_vectors"

# ── 5. nix flake check ──────────────────────────────────────────────────────
step "flake check --no-build (every system)"
nixc flake check --no-build "${flake_opts[@]}" "$flake"

# ── The work tree is as it was ──────────────────────────────────────────────
if [ "$flake" != "path:$root" ]; then
  tree_after=$(tree_state)
  [ "$tree_before" = "$tree_after" ] ||
    fail "the check changed the work tree:"$'\n'"before: $tree_before"$'\n'"after:  $tree_after"
fi

printf '\nnix/check.sh: OK: the flake evaluates against the stub nixpkgs (%s, %ss)\n' \
  "$nix_version" "$((SECONDS - started))"

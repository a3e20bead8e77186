# The build tools from nixpkgs that best match the repository's pins:
# the Rust toolchain in rust-toolchain.toml, and maturin in pyproject.toml's
# [build-system].
#
# rustup reads rust-toolchain.toml and Nix does not. With nixpkgs as our only
# input we cannot download an arbitrary toolchain either, as rust-overlay or
# fenix would. nixpkgs does keep some Rust releases as
# `rustPackages_<major>_<minor>`, so we take the pinned one when it is there,
# and otherwise nixpkgs' default with a warning. The build still works in that
# case, because cargo enforces the real minimum (rust-version in Cargo.toml),
# but its bytes will differ from those of a build with the pinned compiler
# (DESIGN §10).
{ lib, pkgs }:
let
  pinnedRust = (lib.importTOML ../rust-toolchain.toml).toolchain.channel;
  # A channel such as "stable" or "nightly-2025-01-01" names no release that
  # nixpkgs could have.
  pinsARelease = builtins.match "[0-9]+\\.[0-9]+(\\.[0-9]+)?" pinnedRust != null;
  pinnedAttr = "rustPackages_" + lib.replaceStrings [ "." ] [ "_" ] (lib.versions.majorMinor pinnedRust);

  rustPackages =
    if pinsARelease && pkgs ? ${pinnedAttr} then pkgs.${pinnedAttr} else pkgs.rustPackages;
  inherit (rustPackages) rustc;
  # A "1.95" pin accepts any 1.95.x. A "1.95.0" pin accepts only that release.
  rustMatches =
    !pinsARelease
    || rustc.version == pinnedRust
    || lib.versions.majorMinor rustc.version == pinnedRust;

  # pyproject.toml pins maturin as `maturin==X.Y.Z` in [build-system].requires.
  buildRequires = (lib.importTOML ../pyproject.toml).build-system.requires;
  maturinPins = lib.concatMap (
    req:
    let
      m = builtins.match "maturin==([^;, ]+)" req;
    in
    if m == null then [ ] else m
  ) buildRequires;
  pinnedMaturin = if maturinPins == [ ] then null else builtins.head maturinPins;
  maturinMatches = pinnedMaturin == null || pkgs.maturin.version == pinnedMaturin;
in
lib.warnIf (!rustMatches)
  "lattice: rust-toolchain.toml pins Rust ${pinnedRust}, but this nixpkgs has neither ${pinnedAttr} nor that release as its default (it has ${rustc.version}); building with ${rustc.version}."
  (
    lib.warnIf (!maturinMatches)
      "lattice: pyproject.toml pins maturin ${toString pinnedMaturin}, but this nixpkgs has ${pkgs.maturin.version}; building with ${pkgs.maturin.version}."
      {
        inherit (rustPackages) rustPlatform rustc cargo;
        # Both are components in rust-toolchain.toml. The packages set may
        # lack them in some nixpkgs versions, and the top-level ones work with
        # any rustc.
        clippy = rustPackages.clippy or pkgs.clippy;
        rustfmt = rustPackages.rustfmt or pkgs.rustfmt;
        # maturinBuildHook brings its own maturin (the same pkgs.maturin).
        # This one is for the dev shell.
        inherit (pkgs) maturin;
        inherit pinnedRust pinnedMaturin;
      }
  )

# lattice as a nixpkgs Python package. maturin builds the Rust extension
# (lattice._lattice) from the crates that Cargo.lock pins, which are vendored
# in the store, and the resulting wheel is installed like any other.
#
# The flake calls this with python.pkgs.callPackage, and so can anyone who
# wants lattice for another interpreter or another nixpkgs:
#   python3Packages.callPackage ./nix/package.nix { }
{
  lib,
  buildPythonPackage,
  pythonOlder,
  rustPlatform,
  cargo,
  rustc,

  # [project].dependencies in pyproject.toml
  cryptography,
  numpy,
  click,
  rich,

  # The source's date, as SOURCE_DATE_EPOCH (DESIGN §10). The flake passes
  # the commit time. The default is the earliest date a zip can hold.
  sourceDateEpoch ? 315532800,
}:
let
  pyproject = lib.importTOML ../pyproject.toml;

  # Only what the build reads. Then a change to tests/, docs/ or nix/ does not
  # rebuild the Rust extension. README.md is `readme` in pyproject.toml, and
  # maturin puts it into the wheel's metadata.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../pyproject.toml
      ../Cargo.toml
      ../Cargo.lock
      ../rust
      ../python
      (lib.fileset.maybeMissing ../README.md)
      (lib.fileset.maybeMissing ../LICENSE-MIT)
      (lib.fileset.maybeMissing ../LICENSE-APACHE)
    ];
  };
in
buildPythonPackage {
  pname = pyproject.project.name;
  inherit (pyproject.project) version;
  pyproject = true;
  inherit src;

  # The extension is built for the stable ABI of 3.11 (abi3-py311).
  disabled = pythonOlder "3.11";

  # Every crate in Cargo.lock, fetched by its checksum into the store, so the
  # build runs offline, locked to exactly these crates.
  cargoDeps = rustPlatform.importCargoLock { lockFile = ../Cargo.lock; };

  # cargoSetupHook points cargo at the vendored crates. maturinBuildHook
  # replaces the pypa build phase with `maturin build --release --frozen
  # --manylinux off`, which puts the wheel in dist/ for the pypa install hook.
  # maturin takes everything else from [tool.maturin] in pyproject.toml:
  # manifest-path, the "python" feature, python-source, locked, SBOM off.
  nativeBuildInputs = [
    rustPlatform.cargoSetupHook
    rustPlatform.maturinBuildHook
    # The toolchain that nix/toolchain.nix chose (rust-toolchain.toml).
    cargo
    rustc
  ];

  dependencies = [
    cryptography
    numpy
    click
    rich
  ];

  # DESIGN §10's reproducible-wheel settings that pyproject.toml and Cargo.toml
  # don't already set (those set locked, sbom, codegen-units=1, lto, strip):
  # - --locked: current hooks pass --frozen, which implies it. We pass it
  #   again so that no hook version can rewrite Cargo.lock.
  maturinBuildFlags = [ "--locked" ];
  env.SOURCE_DATE_EPOCH = toString sourceDateEpoch;
  # - --remap-path-prefix: sandboxed builds run in /build, but unsandboxed
  #   ones (macOS, `sandbox = false`) run in a fresh /tmp/nix-build-*
  #   directory each time. rustc records that path in panic messages and
  #   file!(). Mapping it to a fixed name gives the same bytes in every build
  #   directory. The build directory, which also holds the vendored crates
  #   (cargo-vendor-dir), becomes /build. The source inside it becomes
  #   /lattice, as in scripts/build-wheel.sh. When several prefixes match,
  #   rustc applies the last one.
  preBuild = ''
    export RUSTFLAGS="''${RUSTFLAGS:+$RUSTFLAGS }--remap-path-prefix=$NIX_BUILD_TOP=/build --remap-path-prefix=$PWD=/lattice"
  '';

  # The test suites are separate derivations in the flake's `checks`
  # (nix/checks.nix), so that a test change does not rebuild the extension.
  doCheck = false;
  # This still runs: it proves that the installed extension module loads.
  pythonImportsCheck = [
    "lattice"
    "lattice._lattice"
  ];

  meta = {
    inherit (pyproject.project) description;
    license = with lib.licenses; [
      mit
      asl20
    ];
    mainProgram = "lattice";
  };
}

# `nix develop`: the tools to build, test and lint lattice by hand, from the
# same nixpkgs as the package. That means the same Rust toolchain
# (nix/toolchain.nix) and the same Python.
#
# To build the extension into the checkout and test it, use a virtualenv
# that sees this Python's packages. `maturin develop` needs one:
#   python -m venv --system-site-packages .venv-nix && . .venv-nix/bin/activate
#   maturin develop && pytest
{
  mkShell,
  ruff,
  toolchain,
  python,
}:
let
  # Runtime dependencies, test tools ([project.optional-dependencies].dev)
  # and mypy. mypy is in the environment rather than on PATH alone, so that
  # it sees numpy's and cryptography's type information.
  pythonEnv = python.withPackages (
    ps: with ps; [
      cryptography
      numpy
      click
      rich
      pytest
      pytest-benchmark
      hypothesis
      blake3
      mypy
    ]
  );
in
mkShell {
  packages = [
    # rust-toolchain.toml's components: rustc and cargo, plus rustfmt and clippy.
    toolchain.rustc
    toolchain.cargo
    toolchain.rustfmt
    toolchain.clippy
    toolchain.maturin
    pythonEnv
    ruff
  ];

  # `cargo build/clippy --features python` runs pyo3's build script, which
  # otherwise takes the first python3 on PATH. That can be a venv's or the
  # system's. (maturin sets this variable itself.)
  PYO3_PYTHON = pythonEnv.interpreter;
  # rust-analyzer and other editors find the standard library's source here.
  RUST_SRC_PATH = "${toolchain.rustPlatform.rustLibSrc}";
}

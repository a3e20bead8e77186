# The test suites, as derivations that `nix flake check` builds. The flake
# adds the package itself to these.
{
  lib,
  stdenv,
  runCommand,
  toolchain,
  python,
  lattice,
  # The third-party test vectors (shared/vectors, see tests/vectors.py), as a
  # path. They are not in the repository, so the flake has them only when it
  # is evaluated with --impure and LATTICE_VECTORS set. null means none.
  vectors ? null,
}:
let
  inherit (toolchain) rustPlatform cargo rustc;

  # Each check gets only the files it reads, so that a change elsewhere does
  # not rerun it. maybeMissing lets the flake evaluate before these folders
  # exist: git does not track empty folders.
  testSource = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../pyproject.toml # [tool.pytest.ini_options]: testpaths, markers, addopts
      (lib.fileset.maybeMissing ../conftest.py)
      (lib.fileset.maybeMissing ../tests)
      (lib.fileset.maybeMissing ../benches)
    ];
  };

  rustSource = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../rust
    ];
  };
in
{
  # The Python suite, run against the lattice in the store: the package that
  # users get, with its compiled extension. The checkout's python/ folder is
  # left out of testSource, so the tests cannot import lattice from there.
  #
  # Without the vectors, the modules that replay them (those that import
  # tests/vectors.py) are left out, and the log names them. Those modules fail
  # on purpose when the vectors are missing, and pure evaluation cannot
  # reach the vectors.
  pytest =
    runCommand "lattice-pytest-${lattice.version}"
      {
        src = testSource;
        LATTICE_VECTORS = if vectors == null then "" else vectors;
        nativeBuildInputs = [
          (python.withPackages (ps: [
            lattice
            ps.pytest
            ps.pytest-benchmark
            ps.hypothesis
            ps.blake3
          ]))
        ];
      }
      ''
        cp -r --no-preserve=mode "$src" source
        cd source
        export HOME="$TMPDIR"

        skip=()
        if [ -z "$LATTICE_VECTORS" ]; then
          for f in tests/test_*.py; do
            if grep -qE '^(from vectors import|import vectors)' "$f"; then
              skip+=("--ignore=$f")
            fi
          done
          echo "no LATTICE_VECTORS, so leaving out: ''${skip[*]:-nothing}"
          echo "run them with: LATTICE_VECTORS=/path/to/shared/vectors nix flake check --impure"
        fi

        # As `make pytest` runs them. The benchmarks run once each as smoke
        # tests, untimed (STYLE.md, habit 6).
        export HYPOTHESIS_PROFILE=ci
        python -m pytest -q -p no:cacheprovider --benchmark-disable "''${skip[@]}"
        touch "$out"
      '';

  # The pure Rust core's tests (`cargo test`, without the pyo3 feature, DESIGN
  # §1), on the dev profile that Cargo.toml tunes for them. They use the same
  # vendored crates as the package.
  cargo-test = stdenv.mkDerivation {
    pname = "lattice-cargo-test";
    inherit (lattice) version cargoDeps;
    src = rustSource;
    nativeBuildInputs = [
      rustPlatform.cargoSetupHook
      cargo
      rustc
    ];
    buildPhase = ''
      runHook preBuild
      cargo test --frozen --workspace --jobs "$NIX_BUILD_CORES"
      runHook postBuild
    '';
    installPhase = ''
      touch "$out"
    '';
  };
}

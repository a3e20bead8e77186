# legacyPackages.<system> of the stub: the nixpkgs attributes that lattice's
# flake uses, with nixpkgs' calling conventions. The versions are those that
# lattice pins (rust-toolchain.toml, pyproject.toml), as in a nixpkgs that
# has them all.
{ lib, system }:
let
  # stdenv.mkDerivation, reduced to what evaluation sees. `env` becomes
  # variables, `passthru` becomes attributes of the result, `meta` is kept
  # out of the derivation, and all the other attributes are variables in the
  # .drv, as they are in real nixpkgs. The builder is plain /bin/sh, which
  # needs no store path. It fails on purpose, so that nobody takes the stub's
  # output for a build.
  mkDerivation =
    attrs:
    let
      name =
        attrs.name or (
          if attrs ? pname && attrs ? version then
            "${attrs.pname}-${attrs.version}"
          else
            throw "stub mkDerivation: neither name nor pname and version given"
        );
      drv = derivation (
        builtins.removeAttrs attrs [
          "passthru"
          "meta"
          "env"
        ]
        // attrs.env or { }
        // {
          inherit name system;
          builder = "/bin/sh";
          args = [
            "-c"
            "echo 'stub-nixpkgs: this derivation can be evaluated, not built; use the real nixpkgs' >&2; exit 1"
          ];
        }
      );
    in
    drv // attrs.passthru or { } // { meta = attrs.meta or { }; };

  # The same package, with nothing in it.
  leaf = pname: version: mkDerivation { inherit pname version; };

  # callPackage: the function's named arguments come from `scope`, and
  # `overrides` takes precedence. A required argument that is in neither is
  # an error, as it is with real nixpkgs.
  callPackageWith =
    scope: fn: overrides:
    let
      f = if builtins.isFunction fn then fn else import fn;
    in
    f (builtins.intersectAttrs (builtins.functionArgs f) scope // overrides);

  # ── Rust ────────────────────────────────────────────────────────────────
  # Like rust.packages.stable, in nixpkgs' pkgs/development/compilers/rust.
  mkRustPackages =
    version:
    let
      rustc = leaf "rustc" version;
      cargo = leaf "cargo" version;

      # As in real nixpkgs, this reads Cargo.lock at evaluation time (no
      # import-from-derivation) and requires a hash for each git dependency.
      importCargoLock =
        {
          lockFile ? null,
          lockFileContents ? null,
          outputHashes ? { },
          ...
        }:
        let
          text =
            if lockFileContents != null then
              lockFileContents
            else if lockFile != null then
              builtins.readFile lockFile
            else
              throw "importCargoLock: either lockFile or lockFileContents must be set";
          lock = builtins.fromTOML text;
          packages = lock.package or [ ];
          fromGit = builtins.filter (p: lib.hasPrefix "git+" (p.source or "")) packages;
          unhashed = builtins.filter (p: !(outputHashes ? "${p.name}-${p.version}")) fromGit;
        in
        if packages == [ ] then
          throw "importCargoLock: the lock file has no [[package]] entries"
        else if unhashed != [ ] then
          throw "importCargoLock: no output hash for git dependency ${(builtins.head unhashed).name}-${(builtins.head unhashed).version}; add it to outputHashes"
        else
          mkDerivation {
            name = "cargo-vendor-dir";
            lockHash = builtins.hashString "sha256" text;
            crates = map (p: "${p.name}-${p.version}") (builtins.filter (p: p ? checksum) packages);
          };

      rustPlatform = {
        inherit importCargoLock;
        rustLibSrc = mkDerivation { name = "rust-lib-src"; };
        cargoSetupHook = mkDerivation {
          name = "cargo-setup-hook.sh";
          propagatedBuildInputs = [ cargo ];
        };
        maturinBuildHook = mkDerivation {
          name = "maturin-build-hook.sh";
          propagatedBuildInputs = [
            pkgs.maturin
            cargo
            rustc
          ];
        };
        # Real nixpkgs requires one of cargoHash, cargoLock or cargoDeps.
        buildRustPackage =
          attrs:
          mkDerivation (
            builtins.removeAttrs attrs [ "cargoLock" ]
            // {
              cargoDeps =
                if attrs ? cargoDeps then
                  attrs.cargoDeps
                else if attrs ? cargoLock then
                  importCargoLock attrs.cargoLock
                else if attrs ? cargoHash then
                  mkDerivation {
                    name = "${attrs.pname or "rust"}-vendor";
                    outputHash = attrs.cargoHash;
                  }
                else
                  throw "buildRustPackage: set one of cargoHash, cargoLock or cargoDeps";
              nativeBuildInputs = [
                rustPlatform.cargoSetupHook
                cargo
                rustc
              ]
              ++ attrs.nativeBuildInputs or [ ];
            }
          );
      };
    in
    {
      inherit rustc cargo rustPlatform;
      clippy = leaf "clippy" version;
      rustfmt = leaf "rustfmt" version;
    };

  # ── Python ──────────────────────────────────────────────────────────────
  pythonVersion = "3.13.9";
  pythonMajorMinor = lib.versions.majorMinor pythonVersion;

  python3 = mkDerivation {
    pname = "python3";
    version = pythonVersion;
    passthru = {
      pkgs = python3Packages;
      withPackages = f: pythonEnv (f python3Packages);
      interpreter = "${python3}/bin/python3";
      executable = "python${pythonMajorMinor}";
      inherit pythonVersion;
    };
  };

  pythonEnv =
    packages:
    let
      env = mkDerivation {
        name = "python3-${pythonVersion}-env";
        paths = [ python3 ] ++ packages;
        passthru.interpreter = "${env}/bin/python3";
      };
    in
    env;

  # buildPythonPackage: like real nixpkgs, `disabled` refuses the package,
  # and the result has a `dist` output that holds the wheel.
  buildPythonPackage =
    attrs:
    if attrs.disabled or false then
      throw "${attrs.pname}-${attrs.version} not supported for interpreter python${pythonMajorMinor}"
    else
      mkDerivation (
        builtins.removeAttrs attrs [ "disabled" ]
        // {
          name = "python${pythonMajorMinor}-${attrs.pname}-${attrs.version}";
          outputs = [
            "out"
            "dist"
          ];
          nativeBuildInputs = [ python3 ] ++ attrs.nativeBuildInputs or [ ];
        }
      );

  pyLeaf =
    pname: version:
    buildPythonPackage {
      inherit pname version;
      pyproject = true;
    };

  python3Packages = {
    python = python3;
    inherit buildPythonPackage;
    callPackage = callPackageWith (pkgs // python3Packages);
    pythonOlder = v: builtins.compareVersions pythonVersion v < 0;

    blake3 = pyLeaf "blake3" "1.0.8";
    click = pyLeaf "click" "8.3.1";
    cryptography = pyLeaf "cryptography" "46.0.3";
    hypothesis = pyLeaf "hypothesis" "6.148.2";
    mypy = pyLeaf "mypy" "2.4.1";
    numpy = pyLeaf "numpy" "2.3.5";
    pytest = pyLeaf "pytest" "8.4.2";
    pytest-benchmark = pyLeaf "pytest-benchmark" "5.2.3";
    rich = pyLeaf "rich" "14.2.0";
  };

  # ── The package set ─────────────────────────────────────────────────────
  rustPackages_1_95 = mkRustPackages "1.95.0";

  pkgs = {
    inherit
      lib
      pkgs
      system
      python3
      python3Packages
      rustPackages_1_95
      ;
    callPackage = callPackageWith pkgs;

    stdenv = {
      inherit mkDerivation;
      hostPlatform = {
        inherit system;
      };
    };
    inherit mkDerivation;

    # runCommand name env buildCommand
    runCommand =
      name: env: buildCommand:
      mkDerivation (
        env
        // {
          inherit name buildCommand;
        }
      );

    # mkShell turns `packages` into nativeBuildInputs.
    mkShell =
      {
        name ? "nix-shell",
        packages ? [ ],
        inputsFrom ? [ ],
        ...
      }@attrs:
      mkDerivation (
        builtins.removeAttrs attrs [
          "packages"
          "inputsFrom"
        ]
        // {
          inherit name;
          nativeBuildInputs = packages ++ attrs.nativeBuildInputs or [ ];
        }
      );

    rustPackages = rustPackages_1_95;
    inherit (rustPackages_1_95)
      rustc
      cargo
      clippy
      rustfmt
      rustPlatform
      ;

    maturin = leaf "maturin" "1.16.0";
    ruff = leaf "ruff" "0.17.6";
  };
in
pkgs

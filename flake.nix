{
  description = "lattice: Byzantine-tolerant peer-to-peer replication (Python, with a Rust core)";

  # nixpkgs is the only input, on purpose. It has everything lattice needs
  # (the Rust toolchain, maturin, CPython and the Python dependencies), so we
  # do without rust-overlay/fenix and flake-utils. That also means a machine
  # with no network can evaluate this flake against nix/stub-nixpkgs
  # (nix/check.sh), because there is nothing else to fetch.
  #
  # We do not commit a flake.lock: a real one needs a nixpkgs revision and its
  # NAR hash, and we cannot fetch nixpkgs here to compute them. Nix writes the
  # lock on your first `nix build`; see nix/README.md.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      # nixpkgs has a native Rust toolchain and CPython on all four.
      # nix/check.sh evaluates all four against the stub nixpkgs, and
      # instantiates every derivation of the two Linux systems.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];

      # Everything that depends on the system is built once here, and the
      # outputs below take what they need from it.
      perSystem = lib.genAttrs systems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          toolchain = import ./nix/toolchain.nix { inherit lib pkgs; };
          python = pkgs.python3;
          lattice = python.pkgs.callPackage ./nix/package.nix {
            inherit (toolchain) rustPlatform cargo rustc;
            # DESIGN §10: wheel timestamps come from the commit being built,
            # the same SOURCE_DATE_EPOCH as `git log -1 --format=%ct` gives a
            # pip build of that commit. It falls back to 1980-01-01, the
            # earliest date a zip can hold, when the source has no date.
            sourceDateEpoch = self.lastModified or 315532800;
          };
        in
        {
          inherit pkgs toolchain python lattice;
        }
      );

      forAllSystems = f: lib.mapAttrs (_system: f) perSystem;

      # The test vectors that tests/ replays live beside the checkout
      # (shared/vectors), not in it, so a pure evaluation cannot see them.
      # With --impure, LATTICE_VECTORS names them:
      #   LATTICE_VECTORS=$PWD/../shared/vectors nix flake check --impure
      # In pure mode getEnv returns "", and the pytest check leaves out the
      # modules that need them.
      vectorsDir = builtins.getEnv "LATTICE_VECTORS";
      vectors =
        if vectorsDir == "" then
          null
        else
          builtins.path {
            path = vectorsDir;
            name = "lattice-vectors";
          };
    in
    {
      packages = forAllSystems (
        { lattice, ... }:
        {
          default = lattice;
          inherit lattice;
          # The wheel that maturin built, as it was before installation
          # (buildPythonPackage's `dist` output). This is what you compare
          # between builders (`lattice attest`, DESIGN §10).
          wheel = lattice.dist;
        }
      );

      devShells = forAllSystems (
        {
          pkgs,
          toolchain,
          python,
          ...
        }:
        {
          default = pkgs.callPackage ./nix/shell.nix { inherit toolchain python; };
        }
      );

      # `nix flake check` builds all of these: the package itself, then its
      # tests, the Rust core's (cargo test) and the Python suite (pytest).
      checks = forAllSystems (
        {
          pkgs,
          toolchain,
          python,
          lattice,
        }:
        {
          inherit lattice;
        }
        // pkgs.callPackage ./nix/checks.nix {
          inherit
            toolchain
            python
            lattice
            vectors
            ;
        }
      );
    };
}

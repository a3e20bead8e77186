{
  description = "Stand-in for nixpkgs that only evaluates. nix/check.sh uses it to test lattice's flake offline.";

  # This flake has no inputs, because it must evaluate with no network and an
  # empty Nix store. nix/check.sh puts it in place of the real nixpkgs:
  #   --override-input nixpkgs path:./nix/stub-nixpkgs
  #
  # It offers only the slice of the nixpkgs interface that lattice's flake
  # uses: `lib` (./lib.nix) and `legacyPackages.<system>` (./pkgs.nix).
  # Functions check their arguments where real nixpkgs would reject bad ones.
  # Every package is a real derivation: its .drvPath can be instantiated,
  # and its builder fails on purpose, so nothing can be built.
  outputs =
    { self }:
    let
      lib = import ./lib.nix;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ] (system: import ./pkgs.nix { inherit lib system; });
    };
}

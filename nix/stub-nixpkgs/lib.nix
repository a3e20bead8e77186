# The parts of nixpkgs' `lib` that lattice's flake uses, written with builtins
# only. Each one behaves like the real function on the inputs it gets here,
# and fails where the real one would fail. A call that is wrong for real
# nixpkgs therefore fails here too, instead of passing by luck.
let
  inherit (builtins)
    any
    concatLists
    filter
    head
    isPath
    listToAttrs
    pathExists
    splitVersion
    stringLength
    substring
    typeOf
    ;

  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;

  # A file set holds a list of paths that exist.
  mkFileset = paths: {
    _type = "fileset";
    _paths = paths;
  };
  # As in real nixpkgs, a bare path is a file set too, and it must exist.
  # maybeMissing is how to name a path that may not.
  filesetPaths =
    fn: x:
    if isPath x then
      if pathExists x then
        [ x ]
      else
        throw "lib.fileset.${fn}: ${toString x} does not exist (use lib.fileset.maybeMissing for paths that may not)."
    else if (x._type or null) == "fileset" then
      x._paths
    else
      throw "lib.fileset.${fn}: expected a path or a file set, got a ${typeOf x}.";
in
{
  inherit (builtins) mapAttrs replaceStrings;
  inherit hasPrefix;

  genAttrs =
    names: f:
    listToAttrs (
      map (name: {
        inherit name;
        value = f name;
      }) names
    );
  concatMap = f: list: concatLists (map f list);
  importTOML = path: builtins.fromTOML (builtins.readFile path);

  versions.majorMinor =
    v:
    let
      parts = splitVersion v;
    in
    if builtins.length parts < 2 then
      throw "lib.versions.majorMinor: '${v}' has no minor version"
    else
      "${builtins.elemAt parts 0}.${builtins.elemAt parts 1}";

  warnIf = cond: msg: if cond then builtins.trace "evaluation warning: ${msg}" else x: x;

  licenses = {
    mit.spdxId = "MIT";
    asl20.spdxId = "Apache-2.0";
  };

  fileset = {
    maybeMissing =
      path:
      if !isPath path then
        throw "lib.fileset.maybeMissing: expected a path, got a ${typeOf path}."
      else
        mkFileset (if pathExists path then [ path ] else [ ]);
    unions =
      list:
      if !builtins.isList list then
        throw "lib.fileset.unions: expected a list, got a ${typeOf list}."
      else
        mkFileset (concatLists (map (filesetPaths "unions") list));

    # Copy `root` to the store, keeping only the files in the set and the
    # folders that lead to them, as the real toSource does. Every path must be
    # under root.
    toSource =
      { root, fileset }:
      let
        rootString = toString root;
        wanted = map toString (filesetPaths "toSource" fileset);
        outside = filter (p: !(p == rootString || hasPrefix "${rootString}/" p)) wanted;
        keep =
          path: _type:
          any (p: path == p || hasPrefix "${p}/" path || hasPrefix "${path}/" p) wanted;
      in
      if !isPath root then
        throw "lib.fileset.toSource: root must be a path, got a ${typeOf root}."
      else if outside != [ ] then
        throw "lib.fileset.toSource: ${head outside} is not under the root ${rootString}."
      else
        builtins.path {
          path = root;
          name = "source";
          filter = keep;
        };
  };
}

# A stand-in for the parts of nixpkgs' `lib` that nix/blog-server.nix uses, so that the module's
# option tree and its config can be evaluated with plain nix-instantiate, without nixpkgs.
#
# It is NOT the NixOS module system: no option merging by priority, no type coercion, no
# submodules, no assertions are checked. mkOption returns its arguments tagged as an option;
# mkIf, mkMerge and mkDefault return tagged values that eval-module.nix resolves by a plain
# recursive merge. Types are names plus a `check` predicate, used to check the defaults.
# So an evaluation against it checks the module's structure only.
let
  mkType = name: check: { _type = "type"; inherit name check; };
in
rec {
  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: mkOption {
    type = types.bool;
    default = false;
    description = "Whether to enable ${name}.";
  };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkDefault = content: { _type = "override"; priority = 1000; inherit content; };

  types = {
    bool = mkType "bool" builtins.isBool;
    str = mkType "str" builtins.isString;
    int = mkType "int" builtins.isInt;
    listOf = t: mkType "listOf ${t.name}" (v: builtins.isList v && builtins.all t.check v);
    nullOr = t: mkType "nullOr ${t.name}" (v: v == null || t.check v);
  };
}

# Evaluates nix/blog-server.nix against stub-lib.nix (see there: structure only).
#   module:    path of the module
#   settings:  values for services.blog-deploy.* over the option defaults (nested attrs)
#   example:   optional path of a configuration.nix whose services.blog-deploy is read (instead of settings)
# Returns { options = [ { path; type; default; defaultMatchesType; } ]; config = <resolved config>;
#           failedAssertions = [ messages ]; exampleSettings = [ paths ]; }
{ module, settings ? { }, example ? null }:
let
  lib = import ./stub-lib.nix;
  # Stand-in packages: only names.
  pkgs = builtins.listToAttrs (map (n: { name = n; value = { type = "derivation"; name = n; }; })
    [ "gnutar" "findutils" "coreutils" "zstd" "gzip" "gawk" ]);

  isOption = v: builtins.isAttrs v && (v._type or null) == "option";

  # [ { path = [ ... ]; option = ...; } ] for every option under an attrset of options.
  collect = prefix: set: builtins.concatLists (map (name:
    let v = set.${name}; in
    if isOption v then [ { path = prefix ++ [ name ]; option = v; } ]
    else if builtins.isAttrs v then collect (prefix ++ [ name ]) v
    else throw "not an option: ${builtins.concatStringsSep "." (prefix ++ [ name ])}"
  ) (builtins.attrNames set));

  setAt = path: value:
    if path == [ ] then value
    else { ${builtins.head path} = setAt (builtins.tail path) value; };

  # Recursive update where the right side wins (settings over defaults).
  update = a: b: a // builtins.mapAttrs (n: v:
    if builtins.isAttrs v && builtins.isAttrs (a.${n} or null) && !(isOption v) then update a.${n} v else v) b;

  # Resolve mkIf/mkMerge/mkDefault and merge: attrsets recursively, lists by concatenation,
  # anything else must agree.
  resolve = v:
    let t = if builtins.isAttrs v then v._type or null else null; in
    if t == "if" then (if v.condition then resolve v.content else { })
    else if t == "merge" then builtins.foldl' merge { } (map resolve v.contents)
    else if t == "override" then resolve v.content
    else if builtins.isAttrs v && t == null then builtins.mapAttrs (_: resolve) v
    else v;
  merge = a: b:
    if builtins.isAttrs a && builtins.isAttrs b && (a._type or null) == null then
      a // builtins.mapAttrs (n: v: if a ? ${n} then merge a.${n} v else v) b
    else if builtins.isList a && builtins.isList b then a ++ b
    else if a == b then a
    else throw "conflicting definitions: ${builtins.toJSON a} and ${builtins.toJSON b}";

  declared = (import module { inherit lib pkgs; config = { }; }).options;
  options = collect [ ] declared;
  defaults = builtins.foldl' update { } (map (o: setAt o.path o.option.default) options);

  exampleConfig = if example == null then null
    else import example { inherit lib pkgs; config = { }; modulesPath = "/modules"; };
  exampleBlog = if exampleConfig == null then null else exampleConfig.services.blog-deploy;
  leaves = prefix: v:
    if builtins.isAttrs v && !(v ? type && v.type == "derivation")
    then builtins.concatLists (map (n: leaves (prefix ++ [ n ]) v.${n}) (builtins.attrNames v))
    else [ prefix ];

  effective = update defaults.services.blog-deploy (if exampleBlog == null then settings else exampleBlog);
  config = {
    services.blog-deploy = effective;
    # The values the module reads from other modules, at nixpkgs' defaults.
    services.tailscale.interfaceName = "tailscale0";
    services.openssh.ports = [ 22 ];
  };
  resolved = resolve (import module { inherit lib pkgs config; }).config;
in
{
  options = map (o: {
    path = builtins.concatStringsSep "." o.path;
    type = o.option.type.name;
    default = o.option.default;
    defaultMatchesType = o.option.type.check o.option.default;
  }) options;
  config = resolved;
  # The module's own assertions that do not hold (NixOS would refuse the configuration).
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) (resolved.assertions or [ ]));
  exampleSettings = if exampleBlog == null then [ ]
    else map (p: builtins.concatStringsSep "." ([ "services" "blog-deploy" ] ++ p)) (leaves [ ] exampleBlog);
}

# NixOS module: prepares a server as a deploy target of this repository's pipeline
# (./build.sh --target=Deploy). Import it and set `services.blog-deploy.enable = true;`.
#
# It creates the deploy user, the remote root (owned by that user), an nginx virtual host
# serving <root>/current, optionally joins the tailnet with tags, and keeps SSH reachable on
# the tailnet interface (and, with tailscale.onlySsh, only there). It never creates or touches
# <root>/current, <root>/releases/ or <root>/.deploy/: the deploy owns those.
#
# Every nixpkgs option set below was checked against nixpkgs' module sources (the file is
# named next to each group: nixos/modules/...). This module has NOT been evaluated against
# real nixpkgs here: the repository's tests parse it and evaluate its option structure against
# a small stand-in of `lib` (tests/Build.Tests/Nix/), nothing more.
{ config, lib, pkgs, ... }:

let
  inherit (lib) mkOption mkEnableOption mkIf mkMerge mkDefault types;

  cfg = config.services.blog-deploy;

  # services.tailscale.interfaceName (nixos/modules/services/networking/tailscale.nix,
  # default "tailscale0") and services.openssh.ports (nixos/modules/services/networking/ssh/sshd.nix,
  # default [ 22 ]).
  tailnetInterface = config.services.tailscale.interfaceName;
  sshPorts = config.services.openssh.ports;

  optional = cond: x: if cond then [ x ] else [ ];

  # Tailscale's tag rule (as the pipeline checks --tags): "tag:", a letter, then letters, digits, dashes.
  validTag = t: builtins.match "tag:[A-Za-z][A-Za-z0-9-]*" t != null;

  # nginx: the release marker is never cached; HTML, feeds and other text are revalidated on every
  # use (Hexo's asset names carry no content hash, and a deploy changes pages in place); the rest
  # (CSS, JS, images, fonts) may be cached for cacheMaxAge seconds.
  releaseLocation = ''
    default_type text/plain;
    add_header Cache-Control "no-store" always;
    etag off;
    if_modified_since off;
  '';
  revalidateLocation = ''
    add_header Cache-Control "no-cache";
  '';
  assetLocation = ''
    add_header Cache-Control "public, max-age=${toString cfg.cacheMaxAge}";
  '';
in
{
  options.services.blog-deploy = {
    enable = mkEnableOption "this server as a deploy target of the blog pipeline";

    user = mkOption {
      type = types.str;
      default = "deploy";
      description = "The deploy user the pipeline logs in as (the pipeline's --ssh-user).";
    };

    authorizedKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "ssh-ed25519 AAAA... gitlab-deploy" ];
      description = "Public keys allowed to log in as the deploy user: the public half of SSH_PRIVATE_KEY.";
    };

    root = mkOption {
      type = types.str;
      default = "/var/www/blog";
      description = ''
        The remote root (the pipeline's --remote-root), created and owned by the deploy user.
        The deploy creates releases/, current and .deploy/ inside it; this module never touches them.
      '';
    };

    domain = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "blog.example.org";
      description = "The blog's public host name. When null, no nginx virtual host is configured.";
    };

    acme = {
      enable = mkEnableOption "a Let's Encrypt certificate for `domain` (HTTPS, with HTTP redirected), accepting the CA's terms";
      email = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Contact address for the ACME account (required with acme.enable).";
      };
    };

    cacheMaxAge = mkOption {
      type = types.int;
      default = 3600;
      description = "Seconds browsers may cache static assets (not HTML, XML, JSON, text or /.well-known/release).";
    };

    healthHosts = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "server1.example-tailnet.ts.net" ];
      description = ''
        Host names (such as the server's MagicDNS name) under which plain HTTP serves only
        /.well-known/release, never cached and never redirected: for the pipeline's
        --health-url=http://{dns}/.well-known/release.
      '';
    };

    tailscale = {
      enable = mkEnableOption "Tailscale (services.tailscale) with the deploy tags";
      authKeyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/run/secrets/tailscale-authkey";
        description = "A file holding the auth key (a path string, kept out of the Nix store).";
      };
      tags = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "tag:server1" ];
        description = "Tags advertised with `tailscale up --advertise-tags=...`: one of the pipeline's --tags.";
      };
      onlySsh = mkOption {
        type = types.bool;
        default = false;
        description = "Close SSH on every interface but the tailnet's (services.openssh.openFirewall = false).";
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = builtins.substring 0 1 cfg.root == "/" && cfg.root != "/"
            && builtins.match ".*(^|/)\\.\\.?(/|$).*" cfg.root == null;
          message = "services.blog-deploy.root must be an absolute path other than / without . or .. (it is ${cfg.root}).";
        }
        {
          assertion = cfg.acme.enable -> (cfg.domain != null && cfg.acme.email != null);
          message = "services.blog-deploy.acme.enable needs services.blog-deploy.domain and services.blog-deploy.acme.email.";
        }
        {
          assertion = builtins.all validTag cfg.tailscale.tags;
          message = "services.blog-deploy.tailscale.tags must look like tag:server1 (got ${builtins.concatStringsSep ", " cfg.tailscale.tags}).";
        }
        {
          assertion = cfg.tailscale.onlySsh -> cfg.tailscale.enable;
          message = "services.blog-deploy.tailscale.onlySsh needs services.blog-deploy.tailscale.enable: SSH would be closed everywhere.";
        }
      ];

      # users.users.<name>.{isNormalUser,group,hashedPassword,packages} (nixos/modules/config/users-groups.nix),
      # users.users.<name>.openssh.authorizedKeys.keys (nixos/modules/services/networking/ssh/sshd.nix).
      # isNormalUser gives a home under /home, the default login shell (bash: a POSIX sh) and a
      # UID >= 1000. No extraGroups: no wheel, no sudo.
      # hashedPassword: with null (the default) NixOS writes "!" into /etc/shadow
      # (update-users-groups.pl), which OpenSSH treats as a locked account unless UsePAM is on.
      # "*" matches no password either, but is not a lock prefix, so the key login works
      # whatever services.openssh.settings.UsePAM says.
      users.users.${cfg.user} = {
        isNormalUser = true;
        group = cfg.user;
        hashedPassword = mkDefault "*";
        openssh.authorizedKeys.keys = cfg.authorizedKeys;
        # What the deploy runs on the server: tar, find, coreutils (incl. sha256sum, mkfifo, tee),
        # and, when present, zstd (the upload's compression; else gzip) and awk.
        packages = [ pkgs.gnutar pkgs.findutils pkgs.coreutils pkgs.zstd pkgs.gzip pkgs.gawk ];
      };
      users.groups.${cfg.user} = { };

      # systemd.tmpfiles.settings.<config-name>.<path>.<type>.{user,group,mode}
      # (nixos/modules/system/boot/systemd/tmpfiles.nix). "d" creates the directory and fixes its
      # owner and mode; its age "-" (the default) never cleans anything inside it.
      systemd.tmpfiles.settings."10-blog-deploy".${cfg.root}.d = {
        user = cfg.user;
        group = cfg.user;
        mode = "0755";
      };

      # services.openssh.enable (nixos/modules/services/networking/ssh/sshd.nix).
      services.openssh.enable = true;
    }

    # services.nginx.enable, services.nginx.virtualHosts.<name>.{root,enableACME,forceSSL,locations}
    # (nixos/modules/services/web-servers/nginx/default.nix and vhost-options.nix),
    # locations.<path>.{tryFiles,extraConfig} (nginx/location-options.nix).
    (mkIf (cfg.domain != null) {
      services.nginx.enable = true;
      services.nginx.virtualHosts.${cfg.domain} = {
        root = "${cfg.root}/current";
        enableACME = cfg.acme.enable;
        forceSSL = cfg.acme.enable;
        locations."= /.well-known/release".extraConfig = releaseLocation;
        locations."~* \\.(?:html?|xml|json|txt)$".extraConfig = revalidateLocation;
        locations."/" = {
          tryFiles = "$uri $uri/ =404";
          extraConfig = assetLocation;
        };
      };
      # networking.firewall.allowedTCPPorts (nixos/modules/services/networking/firewall.nix).
      networking.firewall.allowedTCPPorts = [ 80 ] ++ optional cfg.acme.enable 443;
    })

    # security.acme.acceptTerms and security.acme.defaults.email (nixos/modules/security/acme/default.nix).
    (mkIf cfg.acme.enable {
      security.acme.acceptTerms = true;
      security.acme.defaults.email = cfg.acme.email;
    })

    # The health check's host names: plain HTTP, only /.well-known/release, whatever ACME does for `domain`.
    (mkIf (cfg.healthHosts != [ ]) {
      services.nginx.enable = true;
      services.nginx.virtualHosts.blog-deploy-health = {
        serverName = builtins.head cfg.healthHosts;
        serverAliases = builtins.tail cfg.healthHosts;
        root = "${cfg.root}/current";
        locations."= /.well-known/release".extraConfig = releaseLocation;
        locations."/".return = 404;
      };
    })

    # services.tailscale.{enable,authKeyFile,extraUpFlags,extraDaemonFlags}
    # (nixos/modules/services/networking/tailscale.nix). extraUpFlags are only applied with an
    # authKeyFile (by the tailscaled-autoconnect unit); extraDaemonFlags go on tailscaled's
    # command line, where --no-logs-no-support belongs.
    (mkIf cfg.tailscale.enable {
      services.tailscale.enable = true;
      services.tailscale.authKeyFile = cfg.tailscale.authKeyFile;
      services.tailscale.extraUpFlags =
        optional (cfg.tailscale.tags != [ ]) "--advertise-tags=${builtins.concatStringsSep "," cfg.tailscale.tags}";
      services.tailscale.extraDaemonFlags = [ "--no-logs-no-support" ];
      # networking.firewall.interfaces.<name>.allowedTCPPorts (nixos/modules/services/networking/firewall.nix):
      # SSH (and the health check's HTTP) open on the tailnet interface.
      networking.firewall.interfaces.${tailnetInterface}.allowedTCPPorts =
        sshPorts ++ optional (cfg.healthHosts != [ ]) 80;
    })

    # services.openssh.openFirewall (nixos/modules/services/networking/ssh/sshd.nix, default true)
    # opens services.openssh.ports on every interface; off, only the per-interface rule above remains.
    (mkIf cfg.tailscale.onlySsh {
      services.openssh.openFirewall = false;
    })
  ]);
}

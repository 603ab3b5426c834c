#!/usr/bin/env bash
# Bootstrapper: build the pipeline program only when its sources changed, then exec it.
# `dotnet run` costs seconds on every warm run (MSBuild's up-to-date check); a stamp over the
# sources' names and content costs milliseconds. `exec` hands signals straight to the program.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# NuGet takes only an absolute package folder: a relative one is relative to where this was run.
if [[ -n "${NUGET_PACKAGES:-}" && "$NUGET_PACKAGES" != /* ]]; then
  export NUGET_PACKAGES="$PWD/$NUGET_PACKAGES"
fi
cd "$root"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if ! command -v dotnet >/dev/null 2>&1; then
  echo "build.sh: 'dotnet' was not found on PATH. The pipeline needs the .NET 10 SDK:" >&2
  echo "  https://dotnet.microsoft.com/download/dotnet/10.0 (Alpine: apk add dotnet10-sdk)" >&2
  exit 2
fi

out=".build/bin"
stamp_file=".build/stamp"
lock_dir=".build/lock"

# Everything that goes into Build.dll: sources, projects, props, lock files, by name and content
# (not file times: a fresh clone with the compiled output restored from a CI cache is up to date),
# and the toolchain: the SDKs and runtimes installed beside `dotnet`, and the CPU architecture.
sources_stamp() {
  local dotnet_root
  dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
  {
    # cksum is POSIX (GNU, BusyBox, macOS): one run for all files keeps this in milliseconds.
    find build -type d \( -name bin -o -name obj \) -prune -o -type f \
      \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name 'packages.lock.json' \) \
      -exec cksum {} +
    for f in global.json Directory.Build.props Directory.Packages.props; do
      if [[ -f "$f" ]]; then cksum "$f"; fi
    done
    echo "arch $(uname -m)"
    ls "$dotnet_root/sdk" "$dotnet_root/shared/Microsoft.NETCore.App" 2>/dev/null || true
  } | LC_ALL=C sort
}

up_to_date() {
  # Build.dll, or the native executable alone.
  [[ ( -f "$out/Build.dll" || -x "$out/Build" ) && -f "$stamp_file" ]] && [[ "$(cat "$stamp_file")" == "$1" ]]
}

release_lock() { rmdir "$lock_dir" 2>/dev/null || true; }

# The runtime identifier that ReadyToRun code is compiled for on this machine (Linux x64/arm64): the code does not
# depend on the C library, so glibc's identifier serves musl (Alpine) too.
runtime_id() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) echo linux-x64 ;;
    Linux-aarch64) echo linux-arm64 ;;
  esac
}

# The ways to compile, fastest start first; one this SDK cannot do (no runtime or crossgen pack for the platform,
# offline, no C toolchain) falls back to the next:
# - native: one native executable (Native AOT): no runtime to start and no JIT, so the first task runs ~0.05 s after
#   exec instead of ~0.3 s, and a deploy's site check and SSH handshake run at full speed from their first call. It
#   links with the system's C toolchain (gcc or clang). glibc only: the lock files hold no compiler for musl (Alpine);
# - composite: self-contained, one ReadyToRun image of the program and the framework together, so that the framework's
#   generic code over the program's types (every async method's builder, LINQ, System.Text.Json) is precompiled too.
#   glibc only: it carries its own runtime, and the runtime packs of musl are not in the lock files;
# - readytorun: framework-dependent, the program and its packages precompiled;
# - plain: everything JIT-compiled.
compile_modes() {
  if [[ -n "$(runtime_id)" ]]; then
    if ! ls /lib/ld-musl-* >/dev/null 2>&1; then
      if command -v gcc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1; then echo native; fi
      echo composite
    fi
    echo readytorun
  fi
  echo plain
}

# The project asks for Native AOT (PublishAot), so that every restore wants the same packages as the lock files hold;
# the other ways switch it off for their build alone (-p), keeping it for their restore (-rp).
compile_arguments() {
  case "$1" in
    native) echo "publish --runtime $(runtime_id) -p:DebugType=none" ;;
    composite) echo "publish --runtime $(runtime_id) --self-contained true -p:PublishAot=false -rp:PublishAot=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -p:UseAppHost=true" ;;
    readytorun) echo "publish --runtime $(runtime_id) --self-contained false -p:PublishAot=false -rp:PublishAot=true -p:PublishReadyToRun=true -p:UseAppHost=false" ;;
    plain) echo "build" ;;
  esac
}

current="$(sources_stamp)"
if ! up_to_date "$current"; then
  mkdir -p .build
  # mkdir is atomic: two concurrent build.sh runs never build over each other.
  waited=0
  until mkdir "$lock_dir" 2>/dev/null; do
    if (( waited == 0 )); then echo "build.sh: waiting for another build of the pipeline to finish..." >&2; fi
    # A lock left by a killed run is older than any real build: take it over after 10 minutes.
    if [[ -n "$(find "$lock_dir" -maxdepth 0 -mmin +10 2>/dev/null)" ]]; then rmdir "$lock_dir" 2>/dev/null || true; fi
    sleep 0.2
    waited=1
  done
  trap release_lock EXIT
  current="$(sources_stamp)"
  if ! up_to_date "$current"; then
    echo "build.sh: building the pipeline (sources changed)..." >&2
    compiled=
    for mode in $(compile_modes); do
      # The SDK would reuse ReadyToRun images another way left in obj/ (a composite's parts without their image
      # start nothing but an abort): each way compiles its own.
      rm -rf "$out" build/obj/Release/*/*/R2R
      # MSBuild's own output only matters when the last way fails too.
      if log="$(dotnet $(compile_arguments "$mode") build/Build.csproj --configuration Release --output "$out" --nologo --verbosity quiet 2>&1)"; then
        compiled=yes
        break
      fi
      # Errors in the sources fail every way alike: say so now.
      if [[ "$log" == *": error CS"* ]]; then break; fi
      echo "build.sh: could not compile the pipeline as $mode (this SDK or platform lacks its packs); trying the next way..." >&2
    done
    if [[ -z "$compiled" ]]; then
      printf '%s\n' "$log" >&2
      echo "build.sh: the pipeline program failed to build (see the errors above)." >&2
      exit 1
    fi
    printf '%s' "$current" > "$stamp_file"
  fi
  release_lock
  trap - EXIT
fi

# A native or self-contained program starts on its own; the others through dotnet.
if [[ -x "$out/Build" ]]; then exec "$out/Build" "$@"; fi
exec dotnet "$out/Build.dll" "$@"

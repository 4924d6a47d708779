#!/usr/bin/env bash
# Runs the Bicep CLI with the given arguments, e.g. `infra/scripts/bicep.sh build infra/main.bicep`.
#
# Which CLI:
#   1. `bicep` on PATH, when there is one (BICEP_FROM_NUGET=1 skips it);
#   2. otherwise the pinned NuGet package Azure.Bicep.CommandLine.<rid>, restored once with the
#      .NET SDK into the git-ignored .tools/bicep/ at the repository root. The package carries the
#      native, self-contained `bicep` binary; it is cached there, so later calls start at once.
#
# The restore is kept to itself: packages and the HTTP cache go under .tools/bicep/, the
# throw-away project lives in a temp folder there, and the user's NuGet configuration is only
# read (for its package sources), never written.
#
# Exit status: the CLI's own, or 3 when no Bicep CLI can be had (the message says why).
set -euo pipefail

readonly BICEP_VERSION="${BICEP_VERSION:-0.49.2}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools_dir="$repo_root/.tools/bicep"

fail() {
  printf 'bicep.sh: %s\n' "$*" >&2
  exit 3
}

if [[ "${BICEP_FROM_NUGET:-}" != "1" ]] && command -v bicep >/dev/null 2>&1; then
  exec bicep "$@"
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) rid=linux-x64 ;;
  Linux/aarch64 | Linux/arm64) rid=linux-arm64 ;;
  Darwin/x86_64) rid=osx-x64 ;;
  Darwin/arm64) rid=osx-arm64 ;;
  *) fail "no Bicep CLI on PATH, and no Bicep NuGet package for $(uname -s)/$(uname -m)" ;;
esac

cached="$tools_dir/$BICEP_VERSION-$rid/bicep"

restore_bicep() {
  command -v dotnet >/dev/null 2>&1 ||
    fail "no Bicep CLI on PATH and no .NET SDK to restore Azure.Bicep.CommandLine.$rid $BICEP_VERSION; install one of them"

  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
  export DOTNET_GENERATE_ASPNET_CERTIFICATE=false

  local sdk_major work log binary
  sdk_major="$(dotnet --version 2>/dev/null | cut -d. -f1)"
  [[ "$sdk_major" =~ ^[0-9]+$ ]] || fail "'dotnet --version' did not report an SDK; install the .NET SDK"

  work="$(mktemp -d "$tools_dir/restore.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  log="$work/restore.log"
  export NUGET_HTTP_CACHE_PATH="$work/http-cache"

  # A project that only references the package; the target framework is the SDK's own, so the
  # restore needs nothing but this one package from the feed.
  cat >"$work/bicep-cli.csproj" <<CSPROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net$sdk_major.0</TargetFramework>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Azure.Bicep.CommandLine.$rid" Version="[$BICEP_VERSION]" />
  </ItemGroup>
</Project>
CSPROJ

  printf 'bicep.sh: restoring Azure.Bicep.CommandLine.%s %s with dotnet (first run only)...\n' \
    "$rid" "$BICEP_VERSION" >&2
  if ! dotnet restore "$work/bicep-cli.csproj" --packages "$work/packages" --nologo \
    -p:ImportDirectoryBuildProps=false -p:ImportDirectoryBuildTargets=false \
    -p:ImportDirectoryPackagesProps=false >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "could not restore Azure.Bicep.CommandLine.$rid $BICEP_VERSION from the configured NuGet sources"
  fi

  binary="$work/packages/azure.bicep.commandline.$rid/$BICEP_VERSION/tools/bicep"
  [[ -f "$binary" ]] || binary="$(find "$work/packages" -type f -name bicep -path '*/tools/*' | head -n 1)"
  [[ -n "$binary" && -f "$binary" ]] || fail "the restored package holds no tools/bicep binary"
  chmod +x "$binary"
  "$binary" --version >/dev/null 2>&1 || fail "the restored bicep binary does not run on this machine"

  # Same-filesystem rename: another caller sees either no binary or a whole one.
  mkdir -p "$(dirname "$cached")"
  mv -f "$binary" "$cached"
  rm -rf "$work"
  trap - EXIT
}

if [[ ! -x "$cached" ]]; then
  mkdir -p "$tools_dir"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$tools_dir/.restore.lock"
    flock 9
  fi
  # Another caller may have finished the restore while this one waited for the lock.
  [[ -x "$cached" ]] || restore_bicep
  if command -v flock >/dev/null 2>&1; then
    exec 9>&-
  fi
fi

exec "$cached" "$@"

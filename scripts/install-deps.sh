#!/usr/bin/env bash
# Installs what weft's main job needs on Debian 12 (the daemon, the CLI, the CNI plugin) and
# builds it: a few system packages, the npm dependencies, TypeScript, the CLI bundle, the
# sandbox exec helper and the CNI executables. Test-only tools come from
# scripts/install-test-deps.sh. Idempotent: what is already there is skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '==> %s\n' "$*"; }

# iproute2: ip netns (the quickstart's fake host); nftables: weft's firewall; util-linux:
# nsenter; gcc + libc6-dev: the CNI shim and the sandbox exec helper; g++ + make + python3:
# node-gyp, which builds better-sqlite3 from source when no prebuilt binary can be fetched.
PKGS=(iproute2 nftables util-linux procps gcc libc6-dev g++ make python3)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  say "apt-get update (package lists)"
  apt-get update -qq
  say "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "system packages already installed: ${PKGS[*]}"
fi
say "npm ci (npm dependencies; without a prebuilt better-sqlite3 it compiles SQLite: minutes on a small machine)"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
say "npm run build (TypeScript, the CLI bundle, the sandbox exec helper, the CNI plugin executables)"
npm run build

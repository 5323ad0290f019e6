#!/usr/bin/env bash
# Installs weft's system packages (Debian 12) and npm dependencies, then builds.
# bird2 runs weft's BGP speaker; gobgpd is the independent BGP speaker of the BGP tests and bench.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(iproute2 nftables util-linux procps containernetworking-plugins netavark dnsmasq-base busybox-static gcc libc6-dev iptables podman runc jq docker.io bird2 gobgpd)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
scripts/build-cni.sh   # the CNI plugin executables (dist/cni/weft, dist/cni/weft-ipam)

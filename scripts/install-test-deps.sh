#!/usr/bin/env bash
# Installs the anchors and tools weft's tests run against (Debian 12), on top of what
# scripts/install-deps.sh installs for the main job. .ci/run calls both.
#
# It never replaces a Docker that is already there: Docker CE (docker-ce, containerd.io) or
# any other dockerd on the PATH is used as it is; docker.io is installed only when there is no
# Docker at all. If no Docker can be had, the Docker tests say so and skip.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '==> %s\n' "$*"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Single-host anchors (CNI plugins, netavark, podman, dnsmasq), images (busybox), tools the
# tests call (iptables, jq), and the multi-host anchors and measuring tools.
PKGS=(containernetworking-plugins netavark podman runc dnsmasq-base busybox-static iptables jq curl
  etcd-server etcd-client bird2 gobgpd wireguard-go iperf3 sockperf dnsperf tcpdump chromium python3)
# wireguard-tools' recommends pull in a kernel module package the tests do not need.
NO_RECOMMENDS=(wireguard-tools)

docker_note=""
if installed docker-ce || installed containerd.io || installed moby-engine; then
  docker_note="Docker CE is installed: using it (docker.io would conflict with it)"
elif command -v dockerd >/dev/null 2>&1; then
  docker_note="a dockerd is already on the PATH ($(command -v dockerd)): using it"
elif installed docker.io; then
  docker_note="docker.io is installed"
else
  PKGS+=(docker.io)
fi

missing=()
for p in "${PKGS[@]}" "${NO_RECOMMENDS[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  say "apt-get update (package lists)"
  apt-get update -qq
  main=() norec=()
  for p in "${missing[@]}"; do
    if [[ " ${NO_RECOMMENDS[*]} " == *" $p "* ]]; then norec+=("$p"); else main+=("$p"); fi
  done
  if [ "${#main[@]}" -gt 0 ]; then
    say "apt-get install ${main[*]} (test anchors; several minutes on a fresh machine)"
    apt-get install -y -qq "${main[@]}" >/dev/null
  fi
  if [ "${#norec[@]}" -gt 0 ]; then
    say "apt-get install --no-install-recommends ${norec[*]}"
    apt-get install -y -qq --no-install-recommends "${norec[@]}" >/dev/null
  fi
else
  say "test packages already installed"
fi
[ -n "$docker_note" ] && say "$docker_note"
if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
  say "no dockerd could be installed: the Docker tests will skip and say why"
fi
exit 0

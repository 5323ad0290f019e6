#!/usr/bin/env bash
# Builds weft's CNI plugin executables from cni/weft-cni.c: <out>/weft and <out>/weft-ipam
# (the same binary; it dispatches on its name). The repo path (for the in-process fallback),
# the node binary and the default weftd socket are compiled in; each can be overridden at run
# time (see the header of cni/weft-cni.c).
#   scripts/build-cni.sh [--repo DIR] [--out DIR] [--socket PATH] [--node PATH]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$here"; out=""; socket="/run/weft/weft.sock"; node="$(command -v node || echo /usr/bin/node)"
while [ $# -gt 0 ]; do
  case "$1" in
    --repo) repo="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --socket) socket="$2"; shift 2 ;;
    --node) node="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
out="${out:-$repo/dist/cni}"
mkdir -p "$out"
cc -O2 -Wall -Wextra -Werror -o "$out/weft.tmp" \
  -DWEFT_DEFAULT_REPO="\"$repo\"" -DWEFT_DEFAULT_NODE="\"$node\"" -DWEFT_DEFAULT_SOCKET="\"$socket\"" \
  "$here/cni/weft-cni.c"
mv -f "$out/weft.tmp" "$out/weft"
ln -f "$out/weft" "$out/weft-ipam"

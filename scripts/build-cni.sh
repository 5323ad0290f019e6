#!/usr/bin/env bash
# Builds weft's CNI plugin executable from cni/weft-cni.c: <out>/weft and <out>/weft-ipam (the
# same binary; it dispatches on its name). This is the build step's job: `weft cni install`
# only copies the result, so nodes never need a C compiler. Where the binary finds weftd and
# its fallback is written at install time (weft-cni.conf next to it); the defaults compiled in
# here apply only without that file (see the header of cni/weft-cni.c).
#   scripts/build-cni.sh [--repo DIR] [--out DIR] [--socket PATH] [--node PATH] [--sanitize]
# --sanitize builds with AddressSanitizer and UndefinedBehaviorSanitizer (tests run it).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$here"; out=""; socket="/run/weft/weft.sock"; node="$(command -v node || echo /usr/bin/node)"; sanitize=0
while [ $# -gt 0 ]; do
  case "$1" in
    --repo) repo="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --socket) socket="$2"; shift 2 ;;
    --node) node="$2"; shift 2 ;;
    --sanitize) sanitize=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
out="${out:-$repo/dist/cni}"
mkdir -p "$out"
flags=(-Wall -Wextra -Werror -Wshadow -Wformat=2)
if [ "$sanitize" = 1 ]; then
  flags+=(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
else
  flags+=(-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong)
fi
cc "${flags[@]}" -o "$out/weft.tmp" \
  -DWEFT_DEFAULT_REPO="\"$repo\"" -DWEFT_DEFAULT_NODE="\"$node\"" -DWEFT_DEFAULT_SOCKET="\"$socket\"" \
  "$here/cni/weft-cni.c"
mv -f "$out/weft.tmp" "$out/weft"
ln -f "$out/weft" "$out/weft-ipam"

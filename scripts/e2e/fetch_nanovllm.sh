#!/usr/bin/env bash
# Fetches nano-vllm's newest upstream into third_party/nano-vllm (git-ignored, never
# committed) without its history, so it is small enough to carry to the GPU machine;
# the commit it came from goes into third_party/nano-vllm/COMMIT. Also copies the
# shared peers folder (the peer and null flash_attn shims, the Triton decode peer) into
# third_party/peers for scripts/e2e/bench_e2e.py.
#
#   scripts/e2e/fetch_nanovllm.sh [SOURCE]     (default $NANOVLLM_SOURCE, else GitHub)
#
# SOURCE is anything git clones: the GitHub URL, or a local mirror where GitHub is not
# reachable. The peers come from $PEERS_DIR (default ../shared/peers beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/../.."
source=${1:-${NANOVLLM_SOURCE:-https://github.com/GeeeekExplorer/nano-vllm}}
rm -rf third_party/nano-vllm
git clone -q --depth 1 "$source" third_party/nano-vllm 2>/dev/null ||
  git clone -q "$source" third_party/nano-vllm
git -C third_party/nano-vllm log -1 --format='%H %cs %s' > third_party/nano-vllm.COMMIT
rm -rf third_party/nano-vllm/.git third_party/nano-vllm/assets
mv third_party/nano-vllm.COMMIT third_party/nano-vllm/COMMIT
peers=${PEERS_DIR:-../shared/peers}
if [ -d "$peers" ]; then
  rm -rf third_party/peers
  cp -r "$peers" third_party/peers
fi
echo "third_party/nano-vllm at $(cut -c1-60 third_party/nano-vllm/COMMIT)"

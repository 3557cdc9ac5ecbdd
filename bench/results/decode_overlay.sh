# Sourced (from the repository root, on the device) by the decode probes' call.sh that
# run arms as overlays of the landed sm_90 pack: `overlay_arms TARBALL ARM...` unpacks
# the landed library (.device/lib.so.xz) as /tmp/lib.so and the landed pack
# (.device/sm90.tar.xz) as /tmp/p/base, makes /tmp/p/ARM for each arm (the base with
# TARBALL's ARM/sm_90/ files over it), exports what the probes read (the arm is then
# chosen by ATTN_PACK_DIR=/tmp/p/ARM) and writes the GPU's name and driver to
# $OUT/gpu.txt.
overlay_arms() {
  local tarball=$1 arm
  shift
  xz -dc .device/lib.so.xz > /tmp/lib.so
  mkdir -p /tmp/p/base && tar -C /tmp/p/base -xJf .device/sm90.tar.xz
  mkdir -p /tmp/ov && tar -C /tmp/ov -xJf "$tarball"
  for arm in "$@"; do
    cp -r /tmp/p/base /tmp/p/$arm && cp /tmp/ov/$arm/sm_90/* /tmp/p/$arm/sm_90/
  done
  export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/lib.so ATTN_TARGET=sm_90
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
}

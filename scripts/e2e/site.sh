# Sourced by scripts/gpu_e2e.sh and scripts/gpu_wheel.sh on the GPU machine: installs the
# offline wheels nano-vllm needs into /tmp/site once (everything in .whl/e2e/, and
# .whl/plot/ when carried; those in .whl/e2e/fallback/, numpy and torch's own
# dependencies, only where the machine lacks the module, so the versions torch was
# installed with stay). Sets $site.
site=/tmp/site
install_e2e_site() {
  [ -f "$site/.attn_e2e" ] && return 0
  local wheels=(.whl/e2e/*.whl)
  [ -d .whl/plot ] && wheels+=(.whl/plot/*.whl)
  local wheel module
  for wheel in .whl/e2e/fallback/*.whl; do
    [ -e "$wheel" ] || continue
    module=$(basename "$wheel" | cut -d- -f1)
    python3 -c "import $module" 2>/dev/null || wheels+=("$wheel")
  done
  python3 -m pip install -q --no-index --no-deps --upgrade --target "$site" "${wheels[@]}"
  touch "$site/.attn_e2e"
}

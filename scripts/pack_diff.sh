#!/usr/bin/env bash
# Builds the kernel pack at two revisions and diffs every PTX file and manifest, per target.
#
#   scripts/pack_diff.sh [--cubins] [--lines N] [--out DIR] BASE [HEAD]
#
# BASE and HEAD are git revisions; without HEAD, the working tree as it is (uncommitted and
# untracked files included). Each side builds the attn-pack target alone, in a build dir kept
# for the next run: a revision in a git worktree, build-diff/base/src (HEAD: build-diff/head/src),
# built in build-diff/base/build, so moving a side to another revision rebuilds only what
# changed; the working tree in build-diff/worktree. Each attn-pack writes its pack into a
# temporary folder (--out DIR: DIR/base and DIR/head, kept), the two at once.
#
# Prints, per target, the files compared, identical and differing, and those on one side only;
# whether the manifests differ, and whether only in the header's version (version= and the
# project version inside compiler=, as when VERSION changes); then a unified diff of every
# differing file, its first N lines (--lines, 40 by default; 0: all). Cubins are compared
# only with --cubins: nvJitLink writes the same cubin for the same PTX.
#
# Exit status: 0 when the packs are identical, 1 when they differ, 2 on an error.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)

usage() { sed -n '2,19s/^# \{0,1\}//p' "$0"; exit "$1"; }
cubins=0 lines=40 out="" revs=()
while [ $# -gt 0 ]; do
  case $1 in
    --cubins) cubins=1 ;;
    --lines) [ $# -ge 2 ] || usage 2 >&2; lines=$2; shift ;;
    --out) [ $# -ge 2 ] || usage 2 >&2; out=$2; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "pack_diff: unknown option $1" >&2; usage 2 >&2 ;;
    *) revs+=("$1") ;;
  esac
  shift
done
[ ${#revs[@]} -ge 1 ] && [ ${#revs[@]} -le 2 ] || usage 2 >&2
[[ $lines =~ ^[0-9]+$ ]] || { echo "pack_diff: --lines takes a number" >&2; exit 2; }

mkdir -p build-diff
# One run at a time: the two sides' build dirs are shared between runs.
exec 9>build-diff/.lock
flock 9

# prepare SIDE REV: the source folder of SIDE at REV (a detached worktree, made once).
prepare() {
  local side=$1 rev=$2 src=build-diff/$1/src
  # Only a worktree of its own: git -C in a plain folder here would find the checkout's.
  if [ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" != "$repo/$src" ]; then
    rm -rf "$src"
    git worktree prune
    mkdir -p "build-diff/$side"
    git worktree add -q --detach "$src" "$rev"
  else
    git -C "$src" checkout -q --force --detach "$rev"
  fi
}

# build SRC DIR: the attn-pack target of SRC in DIR; its log in DIR/pack_diff.log.
build() {
  local src=$1 dir=$2 log=$2/pack_diff.log
  mkdir -p "$dir"
  if { [ -f "$dir/build.ninja" ] ||
       cmake -G Ninja -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release; } >"$log" 2>&1 &&
     cmake --build "$dir" --target attn-pack >>"$log" 2>&1; then
    return
  fi
  tail -n 30 "$log" >&2
  echo "pack_diff: building attn-pack from $src in $dir failed (log: $log)" >&2
  exit 2
}

sides=(base head) labels=() srcs=() dirs=()
for i in 0 1; do
  side=${sides[$i]}
  if [ $i -lt ${#revs[@]} ]; then
    sha=$(git rev-parse --verify --quiet "${revs[$i]}^{commit}") ||
      { echo "pack_diff: ${revs[$i]} is not a revision" >&2; exit 2; }
    prepare "$side" "$sha"
    labels+=("${revs[$i]} (${sha:0:10})") srcs+=("$repo/build-diff/$side/src")
    dirs+=("build-diff/$side/build")
  else
    labels+=("the working tree (on $(git rev-parse --short=10 HEAD))") srcs+=("$repo")
    dirs+=(build-diff/worktree)
  fi
  start=$(date +%s)
  build "${srcs[$i]}" "${dirs[$i]}"
  echo "pack_diff: $side = ${labels[$i]}: attn-pack built in ${dirs[$i]} ($(( $(date +%s) - start )) s)"
done

if [ -n "$out" ]; then
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
start=$(date +%s)
pids=()
for i in 0 1; do
  rm -rf "$out/${sides[$i]}"
  "${dirs[$i]}/bin/attn-pack" -o "$out/${sides[$i]}" >"$out/${sides[$i]}.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [ $status -ne 0 ]; then
  tail -n 20 "$out"/*.log >&2
  echo "pack_diff: attn-pack failed" >&2
  exit 2
fi
echo "pack_diff: both packs written in $(( $(date +%s) - start )) s"

# A manifest without its header's version: version= dropped, compiler=attn-<version>+... kept
# without the version.
sans_version() { sed -E '1{s/ version=[^ ]*//; s/(compiler=attn-)[^+ ]*/\1/}' "$1"; }
# The header's version= and its place in the header, e.g. "version=0.2.0 in field 5".
version_of() {
  head -1 "$1/manifest.txt" | tr ' ' '\n' | grep -n '^version=' |
    sed -E 's/^([0-9]+):(.*)/\2 in field \1/' | grep . || echo "no version="
}

a=$out/base b=$out/head
patterns=(manifest.txt '*.ptx')
[ $cubins -eq 1 ] && patterns+=('*.cubin')
shopt -s nullglob
# The files of pack $1 that are compared, for $target, relative to $1.
files_of() {
  local p f
  for p in "${patterns[@]}"; do
    for f in "$1/$target"/$p; do echo "${f#"$1"/}"; done
  done
}
targets=$(for dir in "$a"/sm_*/ "$b"/sm_*/; do basename "$dir"; done | sort -u)
differing=() only=() manifests=() total=(0 0 0 0 0)
printf '\n%-8s %9s %10s %10s %10s %10s\n' target compared identical differing only-base only-head
for target in $targets; do
  counts=(0 0 0 0 0)
  names=$( { files_of "$a"; files_of "$b"; } | sort -u)
  for name in $names; do
    if [ ! -f "$b/$name" ]; then
      counts[3]=$((counts[3] + 1)) only+=("only in base: $name")
    elif [ ! -f "$a/$name" ]; then
      counts[4]=$((counts[4] + 1)) only+=("only in head: $name")
    else
      counts[0]=$((counts[0] + 1))
      if cmp -s "$a/$name" "$b/$name"; then
        counts[1]=$((counts[1] + 1))
      else
        counts[2]=$((counts[2] + 1)) differing+=("$name")
      fi
    fi
  done
  if [ ! -f "$a/$target/manifest.txt" ] || [ ! -f "$b/$target/manifest.txt" ]; then
    manifests+=("$target: on one side only")
  elif cmp -s "$a/$target/manifest.txt" "$b/$target/manifest.txt"; then
    manifests+=("$target: identical")
  elif cmp -s <(sans_version "$a/$target/manifest.txt") <(sans_version "$b/$target/manifest.txt"); then
    versions="base $(version_of "$a/$target"), head $(version_of "$b/$target")"
    manifests+=("$target: differ only in the header's version ($versions)")
  else
    manifests+=("$target: differ beyond the header's version")
  fi
  printf '%-8s %9d %10d %10d %10d %10d\n' "$target" "${counts[@]}"
  for k in 0 1 2 3 4; do total[$k]=$((total[k] + counts[k])); done
done
printf '%-8s %9d %10d %10d %10d %10d\n' total "${total[@]}"
printf 'manifests: %s\n' "${manifests[@]}"
kinds="PTX and manifests"
[ $cubins -eq 1 ] && kinds="PTX, cubins and manifests"

for entry in "${only[@]}"; do echo "$entry"; done
for name in "${differing[@]}"; do
  echo
  if [[ $name == *.cubin ]]; then
    echo "cubin differs: $name ($(cmp -l "$a/$name" "$b/$name" 2>/dev/null | wc -l) bytes differ)"
    continue
  fi
  diff -u --label "base/$name" --label "head/$name" "$a/$name" "$b/$name" |
    if [ "$lines" -eq 0 ]; then cat; else head -n "$lines"; fi || true
done
echo
if [ ${#differing[@]} -eq 0 ] && [ ${#only[@]} -eq 0 ]; then
  echo "pack_diff: identical: ${total[0]} files ($kinds) over $(echo $targets)"
  exit 0
fi
count() { printf '%s\n' "${differing[@]}" | grep -c "$1" || true; }
echo "pack_diff: the packs differ: $(count '\.ptx$') PTX, $(count 'manifest\.txt$') manifests$(
  [ $cubins -eq 1 ] && echo ", $(count '\.cubin$') cubins") differ; ${#only[@]} files on one side only"
exit 1

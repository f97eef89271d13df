#!/usr/bin/env bash
# Unpacks Mesa's lavapipe (software Vulkan) into a private folder, so the WebGPU tests of optional
# features (test/backend/webgpu-features.test.ts: shader-f16, subgroups) have an adapter that
# offers them on a machine without a GPU. Debian bookworm's Mesa 22.3 lavapipe lacks what Dawn's
# Vulkan backend requires; bookworm-backports' Mesa 25 has it, with shader-f16 and subgroups.
#
# Nothing is installed system-wide: apt runs with its own sources list, package lists and cache in
# a temporary folder and only downloads the packages, which are unpacked with dpkg -x into
# ${TINYZERO_LAVAPIPE_DIR:-~/.cache/tinyzero/lavapipe}. scripts/run-tests.mjs finds them there and
# passes them to the tests (TINYZERO_LAVAPIPE_ICD, LD_LIBRARY_PATH); the other WebGPU tests keep
# using the OpenGL ES adapter. Needs apt-get and the libraries Mesa's drivers link against (LLVM
# 15, xcb, ...: present wherever libgl1-mesa-dri is installed; .ci/run installs the rest).
# Prints the folder; exits non-zero with the reason when it cannot be made to work.
set -euo pipefail
DEST=${TINYZERO_LAVAPIPE_DIR:-$HOME/.cache/tinyzero/lavapipe}
LIB=$DEST/usr/lib/x86_64-linux-gnu
ICD=$DEST/lvp_icd.json
if [ ! -f "$ICD" ]; then
  command -v apt-get >/dev/null || { echo "lavapipe.sh: needs apt-get (Debian bookworm packages)" >&2; exit 1; }
  [ "$(uname -m)" = x86_64 ] || { echo "lavapipe.sh: x86_64 only" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
  printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-backports main\n' > "$tmp/sources.list"
  opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=$tmp/none" -o "Dir::State::Lists=$tmp/lists"
    -o "Dir::Cache=$tmp/cache" -o "Dir::State::Status=/var/lib/dpkg/status" -o "APT::Sandbox::User=$(id -un)" -o Debug::NoLocking=1)
  apt-get "${opts[@]}" -qq update
  # The Vulkan loader from bookworm; the driver and the libdrm it was built against from backports.
  (cd "$tmp/debs" && apt-get "${opts[@]}" -qq download libvulkan1/bookworm mesa-vulkan-drivers/bookworm-backports \
    mesa-libgallium/bookworm-backports libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports libdrm-intel1/bookworm-backports)
  rm -rf "$DEST.partial" && mkdir -p "$DEST.partial"
  for f in "$tmp"/debs/*.deb; do dpkg -x "$f" "$DEST.partial"; done
  # The manifest names the driver by file name; point it at the unpacked copy.
  sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$LIB/libvulkan_lvp.so\"#" \
    "$DEST.partial/usr/share/vulkan/icd.d/lvp_icd.json" > "$DEST.partial/lvp_icd.json"
  rm -rf "$DEST" && mv "$DEST.partial" "$DEST"
fi
missing=$(LD_LIBRARY_PATH=$LIB ldd "$LIB/libvulkan_lvp.so" | grep 'not found' || true)
if [ -n "$missing" ]; then
  echo "lavapipe.sh: the driver in $DEST needs libraries this machine lacks:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "$DEST"

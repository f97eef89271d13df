# Sourced (not run) on a lent GPU machine without Node.js, in the repository root, after
# scripts/gpu-carry.sh packed .gpu/ here and the device call carried .gpu and dist: unpacks node,
# dawn.node, the runtime node_modules (the Qwen tokenizer package included) and the Vulkan/GL
# loaders, and exports NODE (and the loader variables) for the scripts that follow.
mkdir -p /tmp/gpu-node node_modules/webgpu/dist/linux-x64 /tmp/vk
xz -dc .gpu/node.xz > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node
export NODE=/tmp/gpu-node/node
cp -r .gpu/node_modules/* node_modules/
xz -dc .gpu/dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node
[ -f .gpu/tokenizer-qwen.tar.xz ] && tar -xJf .gpu/tokenizer-qwen.tar.xz -C node_modules
nvidia=/usr/local/nvidia/share
if [ -d "$nvidia" ]; then
  # The NVIDIA driver's Vulkan and EGL libraries need the system's loaders (libvulkan1, glvnd):
  # installed where the driver looks for them, as the lent machine's notes describe.
  for f in .gpu/*.deb; do dpkg -x "$f" /; done
  ldconfig
  [ -f "$nvidia/vulkan/icd.d/nvidia_icd.json" ] && export VK_DRIVER_FILES="${VK_DRIVER_FILES:-$nvidia/vulkan/icd.d/nvidia_icd.json}"
  [ -f "$nvidia/glvnd/egl_vendor.d/10_nvidia.json" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="${__EGL_VENDOR_LIBRARY_FILENAMES:-$nvidia/glvnd/egl_vendor.d/10_nvidia.json}"
else
  # A rehearsal elsewhere: keep the machine's own libraries as they are.
  for f in .gpu/*.deb; do dpkg -x "$f" /tmp/vk; done
  export LD_LIBRARY_PATH="/tmp/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

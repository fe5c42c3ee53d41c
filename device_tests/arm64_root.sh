#!/usr/bin/env bash
# Prepare (once) an emulated ARM64 device: a Debian bookworm arm64 root made with debootstrap, run under
# qemu-user through binfmt_misc, with a Python venv holding numpy and onnxruntime aarch64 wheels from PyPI.
#
# Usage: device_tests/arm64_root.sh ROOT
#   ROOT (e.g. build/device/arm64-root) is reused when it was prepared by this same script version, so
#   reruns take seconds. Needs root and the Debian packages of `make device-tools`.
# Why each step (measured here, see shared DEPENDENCIES.md "Device-like environments"):
#   - binfmt_misc may not be mounted in a container: mount it, then enable qemu-aarch64.
#   - resolv.conf and the CA bundle are copied in so pip inside the chroot reaches the registry.
#   - /proc is mounted for pip and Python; /sys is NOT: onnxruntime's cpuinfo probe segfaults under qemu
#     when it sees the host's /sys, and only warns without it.
set -euo pipefail

root=${1:?usage: arm64_root.sh ROOT}
# Bump when the recipe below changes, so a cached root from an older recipe is rebuilt.
recipe=3
numpy_pin=${EDGEPACK_ARM64_NUMPY:-numpy==2.1.3}
ort_pin=${EDGEPACK_ARM64_ORT:-onnxruntime==1.31.1}
stamp="$root/.edgepack-arm64-ready"
want="recipe=$recipe $numpy_pin $ort_pin"

step() { printf '[arm64 %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

for tool in debootstrap qemu-aarch64-static update-binfmts; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found; fix: run 'make device-tools' (as root)" >&2; exit 2; }
done

# binfmt_misc: lets the kernel hand aarch64 ELF files to qemu-aarch64-static.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    step "mounting binfmt_misc"
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    step "enabling qemu-aarch64 in binfmt_misc"
    update-binfmts --enable qemu-aarch64
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    step "cached root $root is ready ($want)"
    exit 0
fi

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "error: no Debian mirror found in /etc/apt sources; fix: configure apt" >&2; exit 2; }

if [ ! -x "$root/usr/bin/python3" ] || [ ! -f "$root/.debootstrap-done" ]; then
    step "debootstrap arm64 bookworm into $root (about 3 minutes)"
    rm -rf "$root.partial"
    mkdir -p "$(dirname "$root")"
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,python3-pip \
        bookworm "$root.partial" "$mirror" >"$(dirname "$root")/debootstrap.log" 2>&1 \
        || { tail -20 "$(dirname "$root")/debootstrap.log" >&2; exit 1; }
    rm -rf "$root"
    mv "$root.partial" "$root"
    touch "$root/.debootstrap-done"
fi

cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/etc/ssl/certs"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"

mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT

step "venv with $numpy_pin $ort_pin (aarch64 wheels) inside the root"
rm -rf "$root/opt/venv"
chroot "$root" /usr/bin/python3 -m venv /opt/venv
# setuptools is preinstalled so the repo copy installs later with --no-build-isolation (no download).
chroot "$root" /opt/venv/bin/pip install --quiet --disable-pip-version-check \
    "$numpy_pin" "$ort_pin" "setuptools>=68" wheel
chroot "$root" /opt/venv/bin/python -c "import platform, numpy, onnxruntime; print('arm64 root:', platform.machine(), 'numpy', numpy.__version__, 'onnxruntime', onnxruntime.__version__)"
echo "$want" >"$stamp"
step "root $root ready"

#!/usr/bin/env bash
# Installs the Debian packages Ingot's demo and tests use, or says exactly what is missing.
# Usage: scripts/debian-packages.sh demo|test
set -euo pipefail

# The object store snapshots upload to (issue 13; test/support/swift-server.ts): Swift 2.30's proxy, account,
# container and object servers (swift: swift-ring-builder; tempurl, s3api, slo and dlo ship in python3-swift),
# and memcached, where tempauth keeps its tokens.
swift_packages=(swift swift-proxy swift-account swift-container swift-object memcached)
demo_packages=(gdisk fdisk util-linux e2fsprogs dosfstools psmisc iproute2 zstd "${swift_packages[@]}")
# The ramdisk build (image-build) and the QEMU end-to-end tests.
ramdisk_packages=(cpio zstd kmod binutils xz-utils xorriso mtools dosfstools grub-pc-bin grub-efi-amd64-bin grub-common qemu-system-x86 openssl)
# nginx serves the whole-disk image that Debian's Ironic deploys through the agent;
# qemu-utils: qcow2 images (qemu-img); tinyproxy: the image download through a real HTTP proxy.
# test/device/bootloader.test.ts and test/e2e/deploy.test.ts: grub-install, grub-mkconfig and udevadm (which
# GRUB's getroot calls), copied with their libraries into a partition image's root (test/support/grub-root.ts);
# the x86_64-efi and i386-pc modules come from grub-efi-amd64-bin and grub-pc-bin above, mtools reads the ESP.
bootloader_packages=(grub2-common grub-common udev)
test_packages=("${demo_packages[@]}" mdadm python3-ironic nginx qemu-utils tinyproxy "${ramdisk_packages[@]}" "${bootloader_packages[@]}")

case "${1:-test}" in
  demo) wanted=("${demo_packages[@]}") ;;
  test) wanted=("${test_packages[@]}") ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs the Debian packages that building, booting and testing the image
# need, when any is missing. Needs root (or sudo); otherwise prints the
# apt-get line to run.
set -euo pipefail

# Build and boot: QEMU, OVMF firmware, systemd-boot, mke2fs.
# Image checks: sgdisk (gdisk), fsck.vfat (dosfstools), mtools.
# Tests: tinyproxy (proxy transport), dnsmasq (DHCP in a network namespace),
# PostgreSQL (manager store), a C compiler for the race detector (gcc,
# libc6-dev), chromium (the web interface driven in a real browser), SIPp
# (sip-tester) as the SIP client of the registrar tests, scp
# (openssh-client) copying backups off and onto a VM.
pkgs=(qemu-system-x86 ovmf systemd-boot-efi e2fsprogs dosfstools gdisk mtools tinyproxy dnsmasq-base postgresql gcc libc6-dev chromium sip-tester openssh-client)
if [ "${1:-}" = "--build-only" ]; then
	pkgs=(qemu-system-x86 ovmf systemd-boot-efi e2fsprogs)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "host-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then
		sudo=sudo
	else
		echo "host-deps: missing Debian packages: ${missing[*]}" >&2
		echo "host-deps: run as root: apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] || [ -n "${HOST_DEPS_UPDATE:-}" ]; then
	$sudo apt-get update -qq
fi
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

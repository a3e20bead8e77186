#!/usr/bin/env bash
# The Debian packages lattice's checks need, installed when missing (a fresh machine has
# none of them): iproute2 for the network-namespace tests, swtpm / swtpm-tools for a real
# TPM 2.0, tpm2-tools for quote interop, libtss2-dev and pkg-config to build tpm2-pytss.
set -euo pipefail

need=()
{ command -v ip && command -v tc; } >/dev/null || need+=(iproute2)
command -v swtpm >/dev/null || need+=(swtpm)
command -v swtpm_setup >/dev/null || need+=(swtpm-tools)
command -v tpm2_checkquote >/dev/null || need+=(tpm2-tools)
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists tss2-esys tss2-tctildr 2>/dev/null || need+=(libtss2-dev)
[ ${#need[@]} -eq 0 ] && exit 0

echo "== installing Debian packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"

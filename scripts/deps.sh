#!/bin/sh
# Installs the real services the tests start (DESIGN.md: "Real parts,
# really started"): redis-server from Debian's packages, when missing.
# Tests start their own instances on free loopback ports.
set -eu
need=""
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
[ -z "$need" ] && exit 0
echo "installing:$need" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null 2>&1 || true
$SUDO apt-get install -y -q $need >/dev/null

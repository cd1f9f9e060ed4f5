#!/usr/bin/env bash
# Installs the system packages ActorTrainer builds against and the Fashion-MNIST data set.
# Idempotent: does nothing when everything is present. Runs as root, or through sudo otherwise.
set -euo pipefail

packages=(libopenblas-dev zlib1g-dev pkg-config libzmq3-dev libsodium-dev libcurl4 dataset-fashion-mnist)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present (${packages[*]})"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: done"

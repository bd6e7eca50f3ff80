#!/usr/bin/env bash
# `make image-test`: build the Dockerfile as it is and run the image the way the runner starts a
# container action, against the sandbox (tests/image/). Works on a bare Debian machine as root:
#   - installs docker.io and debootstrap when missing;
#   - starts dockerd (vfs storage, no iptables, no bridge) when no daemon answers, and stops it
#     again on exit;
#   - when the Dockerfile's base image is absent and no registry can be reached, builds a local
#     stand-in (Debian bookworm with python3.11 from debootstrap, the machine's CA bundle in it)
#     and passes it as PYTHON_IMAGE: a local import cannot carry the pinned digest.
# The classic builder with --network host: BuildKit would pull its frontend image.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${PROMOTE_IMAGE:-promote-action:image-test}"
STAND_IN="promote-action-base:bookworm-python3.11"
TOOLS="$(pwd)/.tools/image"
ROOTFS_TAR="${TOOLS}/bookworm-python3.11.tar"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
PYTHON="${PYTHON:-.venv/bin/python}"
mkdir -p "${TOOLS}"

as_root() {
    if [[ "$(id -u)" != 0 ]]; then
        echo "image-test: $* needs root (or install it yourself)" >&2
        exit 2
    fi
}

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    as_root "installing docker.io and debootstrap"
    # A new machine may have no package lists yet: update them once when the install fails.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            docker.io debootstrap >/dev/null; }
fi

dockerd_pid=""
stop_dockerd() {
    if [[ -n "${dockerd_pid}" ]]; then
        kill "${dockerd_pid}" 2>/dev/null || true
        wait "${dockerd_pid}" 2>/dev/null || true
    fi
}
trap stop_dockerd EXIT
if ! docker info >/dev/null 2>&1; then
    as_root "starting dockerd"
    dockerd --storage-driver=vfs --iptables=false --bridge=none >"${TOOLS}/dockerd.log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 100); do
        docker info >/dev/null 2>&1 && break
        sleep 0.2
    done
    docker info >/dev/null 2>&1 || { tail -20 "${TOOLS}/dockerd.log" >&2; exit 1; }
fi

# The mirror apt already uses, for debootstrap.
debian_mirror() {
    local uri
    uri="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
        | grep -oE 'https?://[^ ]+' | head -1 || true)"
    echo "${uri:-http://deb.debian.org/debian}"
}

pinned="$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)"
base="${pinned}"
if ! docker image inspect "${pinned}" >/dev/null 2>&1 && ! docker pull --quiet "${pinned}" >/dev/null 2>&1; then
    base="${STAND_IN}"
    if ! docker image inspect "${STAND_IN}" >/dev/null 2>&1; then
        if [[ ! -s "${ROOTFS_TAR}" ]]; then
            as_root "debootstrap"
            rootfs="$(mktemp -d)"
            debootstrap --variant=minbase \
                --include=python3.11,python3-venv,python-is-python3,ca-certificates \
                bookworm "${rootfs}" "$(debian_mirror)" >"${TOOLS}/debootstrap.log" 2>&1 \
                || { tail -20 "${TOOLS}/debootstrap.log" >&2; exit 1; }
            # pip inside the build verifies TLS against this machine's trust (it may sit
            # behind an intercepting proxy whose CA only this bundle has).
            cp "${CA_BUNDLE}" "${rootfs}/etc/ssl/certs/ca-certificates.crt"
            rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*
            tar -C "${rootfs}" -cf "${ROOTFS_TAR}.part" .
            mv "${ROOTFS_TAR}.part" "${ROOTFS_TAR}"
            rm -rf "${rootfs}"
        fi
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
            --change 'ENV LANG=C.UTF-8' \
            "${ROOTFS_TAR}" "${STAND_IN}" >/dev/null
    fi
    echo "image-test: ${pinned%%@*} is not available here; building on the stand-in ${STAND_IN}"
fi

DOCKER_BUILDKIT=0 docker build --quiet --network host \
    --build-arg "PYTHON_IMAGE=${base}" --tag "${IMAGE}" . >/dev/null
size="$(docker image inspect --format '{{.Size}}' "${IMAGE}")"
echo "image-test: built ${IMAGE} on ${base}: $((size / 1000000)) MB"

PROMOTE_IMAGE="${IMAGE}" "${PYTHON}" -m pytest -q -s -p no:xdist tests/image

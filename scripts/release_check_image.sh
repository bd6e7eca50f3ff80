#!/usr/bin/env bash
# Prove that users' jobs can run a release's image, before any tag moves to it:
#
#   scripts/release_check_image.sh ghcr.io/<owner>/<repo>@sha256:<digest>
#
# The runner pulls a `docker://` image without credentials, and GHCR creates a package private:
# then every `uses: ...@vX` job fails at "Set up job" with `denied`. So pull the digest as the
# runner does, with an empty DOCKER_CONFIG (no credentials, no helpers), for each platform
# (PLATFORMS, default linux/amd64 linux/arm64; arm64 runs under QEMU), and start what was pulled:
# with no inputs the action must exit 2. A denied pull fails with the fix in an ::error::.
set -euo pipefail

ref="${1:?usage: release_check_image.sh IMAGE@sha256:DIGEST}"
if [[ ! "${ref}" =~ ^[a-z0-9][a-z0-9./_:-]*@sha256:[0-9a-f]{64}$ ]]; then
  echo "::error::not IMAGE@sha256:<64 hex>: ${ref}"
  exit 1
fi

DOCKER_CONFIG="$(mktemp -d)"
export DOCKER_CONFIG
trap 'rm -rf "${DOCKER_CONFIG}"' EXIT

for platform in ${PLATFORMS:-linux/amd64 linux/arm64}; do
  if ! output="$(docker pull --quiet --platform "${platform}" "${ref}" 2>&1)"; then
    printf '%s\n' "${output}"
    if grep -qiE 'denied|unauthorized|forbidden|authentication required' <<<"${output}"; then
      echo "::error title=The release image is private::Pulling ${ref} without credentials" \
        "is denied, so every job using this release would fail at \"Set up job\". Make the" \
        "package public (the package's Package settings -> Danger Zone -> Change visibility" \
        "-> Public), then re-run the failed job. No tag has moved."
    else
      echo "::error::could not pull ${ref} for ${platform} without credentials"
    fi
    exit 1
  fi
  echo "pulled ${ref} for ${platform} without credentials"
  set +e
  docker run --rm --pull never --platform "${platform}" "${ref}"
  code=$?
  set -e
  if [[ "${code}" -ne 2 ]]; then
    echo "::error::${ref} for ${platform} exited ${code} without inputs, not 2: it does not start"
    exit 1
  fi
  echo "${ref} for ${platform} starts and rejects a run without inputs (exit 2)"
done

#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, BPF golden, verifier, FUSE integration).
# Integration tests mount real FUSE file systems: run as root with /dev/fuse. Under CI=true a test
# that cannot mount fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# Abort every FUSE connection whose mount lives under a test directory we created, then lazily
# unmount it. Used when the suite overruns, so that no process is left stuck in the kernel.
cleanup_test_mounts() {
  # mountinfo: field 3 is major:minor, field 5 the mount point; fusectl names a connection
  # (major << 20) | minor. Never stat the mount point: that could hang on a dead daemon.
  awk '{ split($0, parts, " - "); split(parts[2], fs, " ");
         if (fs[1] ~ /^fuse/ && $5 ~ /fusebpf-test|fusebpf-it|fusebpf-demo/) print $3, $5 }' \
    /proc/self/mountinfo |
    while read -r majmin mnt; do
      dev=$(( (${majmin%%:*} << 20) | ${majmin##*:} ))
      [[ -w /sys/fs/fuse/connections/$dev/abort ]] && echo 1 >"/sys/fs/fuse/connections/$dev/abort"
      umount -l "$mnt" 2>/dev/null || true
      echo "test.sh: removed stale mount $mnt" >&2
    done
}

status=0
timeout --kill-after=30 "${FUSEBPF_TEST_BUDGET:-70m}" \
  ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900 "$@" || status=$?
cleanup_test_mounts
if ((status == 124)); then
  echo "test.sh: the test suite overran its time budget" >&2
fi
exit "$status"

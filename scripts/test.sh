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
  awk '$3 ~ /^fuse/ && $2 ~ /fusebpf-test|fusebpf-it|fusebpf-demo/ {print $2}' /proc/mounts |
    while read -r mnt; do
      dev=$(stat -c %d "$mnt" 2>/dev/null || true)
      [[ -n $dev && -w /sys/fs/fuse/connections/$dev/abort ]] && echo 1 >"/sys/fs/fuse/connections/$dev/abort"
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

#!/usr/bin/env bash
# retry-runtime without `std`, on embassy-time: runs the tests of tests/embassy on the host
# (embassy-time's mock driver: instant, exact schedules), builds examples/embassy for
# thumbv7em-none-eabihf, and builds the library itself for that target with only `macros` and
# `embassy`. Adds the thumbv7em-none-eabihf target first if it is missing. Run from anywhere;
# exits non-zero at the first failure.
#
# Everything it writes goes under the repository's target/ (any CARGO_TARGET_DIR is ignored):
#   EMBASSY_TARGET  the cargo target directory of the builds  (default: target/embassy)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
example=$repo/examples/embassy
target=${EMBASSY_TARGET:-$repo/target/embassy}
triple=thumbv7em-none-eabihf
unset CARGO_TARGET_DIR

times=()
# Runs a step, from a directory, and prints how long it took.
step() {
    local name=$1 dir=$2
    shift 2
    echo "== $name"
    local start=$SECONDS
    (cd "$dir" && CARGO_TARGET_DIR=$target "$@")
    local took=$((SECONDS - start))
    echo "$name: ${took}s"
    times+=("$name ${took}s")
}

echo "== the $triple target"
if ! rustup target list --installed | grep -qx "$triple"; then
    rustup target add "$triple"
fi

step "tests/embassy on the mock driver (host)" "$here" cargo test --locked
step "examples/embassy for $triple" "$example" cargo build --locked --target "$triple"
step "retry-runtime (macros, embassy) for $triple" "$repo" \
    cargo build --locked -p retry-runtime --no-default-features --features macros,embassy --target "$triple"

echo "== embassy: done"
printf '  %s\n' "${times[@]}"

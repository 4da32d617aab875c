#!/usr/bin/env bash
# retry-runtime in WebAssembly: builds the library for wasm32-unknown-unknown, runs the tests of
# tests/wasm in node (wasm-bindgen-test), then builds examples/wasm, generates its node bindings
# and runs it, checking what it prints. Installs what is missing first: the wasm32 target, and
# the wasm-bindgen CLI at exactly the version of the wasm-bindgen crate in tests/wasm/Cargo.lock
# (the CLI and the crate must be the same release). Run from anywhere; exits non-zero at the
# first failure.
#
# Everything it writes goes under the repository's target/ (any CARGO_TARGET_DIR is ignored):
#   WASM_TOOLS   where the wasm-bindgen CLI is installed   (default: target/tools)
#   WASM_TARGET  the cargo target directory of the builds  (default: target/wasm)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
example=$repo/examples/wasm
tools=${WASM_TOOLS:-$repo/target/tools}
target=${WASM_TARGET:-$repo/target/wasm}
unset CARGO_TARGET_DIR

# The version of a package in a Cargo.lock.
locked_version() {
    awk -v name="$2" '$0 == "name = \"" name "\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$1"
}

version=$(locked_version "$here/Cargo.lock" wasm-bindgen)
if [[ -z "$version" ]]; then
    echo "error: no wasm-bindgen in $here/Cargo.lock" >&2
    exit 1
fi
example_version=$(locked_version "$example/Cargo.lock" wasm-bindgen)
if [[ "$example_version" != "$version" ]]; then
    echo "error: examples/wasm/Cargo.lock has wasm-bindgen $example_version, tests/wasm/Cargo.lock $version: one CLI serves both" >&2
    exit 1
fi
if ! command -v node >/dev/null; then
    echo "error: node is needed to run the wasm32 tests and the example" >&2
    exit 1
fi

echo "== the wasm32-unknown-unknown target"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

echo "== retry-runtime checked for wasm32-unknown-unknown (features macros, wasm)"
(
    cd "$repo"
    CARGO_TARGET_DIR=$target cargo check --locked -p retry-runtime --no-default-features \
        --features macros,wasm --target wasm32-unknown-unknown
)

echo "== wasm-bindgen-cli $version in $tools"
bindgen=$tools/bin/wasm-bindgen
runner=$tools/bin/wasm-bindgen-test-runner
installed() {
    [[ -x "$bindgen" && -x "$runner" ]] &&
        [[ "$("$bindgen" --version)" == "wasm-bindgen $version" ]] &&
        [[ "$("$runner" --version)" == "wasm-bindgen-test-runner $version" ]]
}
install_start=$SECONDS
if installed; then
    echo "already installed"
else
    # Without default features: no TLS stack (the CLI only downloads browser drivers with it,
    # and node needs none).
    install=(cargo install wasm-bindgen-cli --version "$version" --root "$tools" --force --no-default-features)
    if ! "${install[@]}" --locked; then
        # The CLI's own Cargo.lock may name a release the registry does not serve (a mirror
        # behind crates.io); its dependencies are then resolved afresh.
        echo "warning: cargo install --locked failed; installing with its dependencies resolved afresh" >&2
        "${install[@]}"
    fi
    installed || {
        echo "error: $bindgen is not wasm-bindgen $version after the install" >&2
        exit 1
    }
fi
install_time=$((SECONDS - install_start))
echo "wasm-bindgen-cli: ${install_time}s"

echo "== tests/wasm in node"
test_start=$SECONDS
(
    cd "$here"
    CARGO_TARGET_DIR=$target CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$runner \
        cargo test --target wasm32-unknown-unknown --locked
)
test_time=$((SECONDS - test_start))
echo "tests: ${test_time}s"

echo "== examples/wasm in node"
(
    cd "$example"
    CARGO_TARGET_DIR=$target cargo build --target wasm32-unknown-unknown --release --locked
)
pkg=$target/examples-wasm-pkg
"$bindgen" --target nodejs --out-dir "$pkg" "$target/wasm32-unknown-unknown/release/retry_wasm_example.wasm"
out=$(node "$example/run.mjs" "$pkg")
echo "$out"
expected="call_flaky: ok after 3 attempts"
if [[ "$out" != "$expected" ]]; then
    echo "error: examples/wasm printed \"$out\", not \"$expected\"" >&2
    exit 1
fi

echo "== wasm: done (wasm-bindgen-cli ${install_time}s, tests ${test_time}s)"

#!/usr/bin/env bash
# Compile-time cost of #[retry]: generates a crate with 200 annotated functions and the same
# 200 functions without the attribute, builds both, and prints the ratio of their build times.
# Also reports the clean build time of the macro crate (retry-macros and its dependencies).
#
#   benchmarks/scripts/compile-time.sh            # debug builds, best of 3
#   PROFILE=release RUNS=5 benchmarks/scripts/compile-time.sh
#
# Everything is built in a scratch directory (removed afterwards; KEEP=1 keeps it). Only the
# generated crate itself is timed: its dependencies are built once beforehand.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PROFILE="${PROFILE:-dev}"
RUNS="${RUNS:-3}"
FUNCTIONS="${FUNCTIONS:-200}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/retry-compile-time.XXXXXX")"
if [[ "${KEEP:-0}" != 1 ]]; then
    trap 'rm -rf "$WORK"' EXIT
fi
export CARGO_TARGET_DIR="$WORK/target"
PROFILE_FLAG=(--profile "$PROFILE")

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# One function, annotated or not. Attributes cycle through the keys users write most, so the
# measurement covers the parser's and the expansion's common paths.
ATTRS=(
    'attempts = 3'
    'attempts = 5, base = "100ms", jitter'
    'attempts = 4, base = "50ms", max = "2s", backoff = exponential, factor = 3'
    'attempts = 3, base = "10ms", backoff = constant'
    'attempts = 6, base = "20ms", backoff = fibonacci, jitter = equal'
    'attempts = 5, base = "1ms", jitter = decorrelated, deadline = "5s"'
    'attempts = 2, backoff = linear'
)

generate() { # $1 = crate dir, $2 = 1 to annotate
    local dir="$1" annotate="$2"
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$(basename "$dir")"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
retry-runtime = { path = "$ROOT/retry-runtime" }
tokio = { version = "1.40", features = ["time", "rt"] }

[workspace]
TOML
    {
        echo '#![allow(dead_code, unused_imports, clippy::all)]'
        echo 'use retry_runtime::retry;'
        echo '#[derive(Debug, Clone)] pub struct Error(pub u32);'
        echo 'pub struct Client { pub id: u64 }'
        for ((i = 0; i < FUNCTIONS; i++)); do
            local attr="${ATTRS[$((i % ${#ATTRS[@]}))]}"
            local a=""
            if [[ "$annotate" == 1 ]]; then
                a="#[retry($attr)]"
            fi
            case $((i % 4)) in
                0) echo "$a
pub async fn f$i(client: &Client, key: &str) -> Result<u64, Error> {
    tokio::task::yield_now().await;
    if key.len() as u64 == client.id { Err(Error($i)) } else { Ok(client.id + $i) }
}" ;;
                1) echo "$a
pub async fn f$i(id: u64, name: String) -> Result<String, Error> {
    if id == $i { return Err(Error(1)); }
    Ok(format!(\"{name}-{id}\"))
}" ;;
                2) echo "$a
pub fn f$i(values: &mut Vec<u32>, n: u32) -> Result<usize, Error> {
    values.push(n);
    if values.len() % 7 == $((i % 7)) { Err(Error(n)) } else { Ok(values.len()) }
}" ;;
                3) echo "impl Client {
    $a
    pub async fn m$i(&self, n: u32) -> std::io::Result<u64> {
        if n == $i { Err(std::io::Error::other(\"x\")) } else { Ok(self.id * u64::from(n)) }
    }
}" ;;
            esac
        done
    } > "$dir/src/lib.rs"
}

generate "$WORK/annotated" 1
generate "$WORK/plain" 0

build() { # $1 = crate dir; prints seconds
    (cd "$1" && cargo build --quiet "${PROFILE_FLAG[@]}" >/dev/null 2>&1) || {
        echo "build of $1 failed" >&2
        (cd "$1" && cargo build "${PROFILE_FLAG[@]}" >&2)
        exit 1
    }
}

echo "== warming up: building dependencies ($PROFILE profile)"
build "$WORK/annotated"
build "$WORK/plain"

best() { # $1 = crate dir; best of $RUNS rebuilds of the crate alone
    local best="" t0 t1 t
    for ((run = 0; run < RUNS; run++)); do
        touch "$1/src/lib.rs"
        t0=$(now)
        build "$1"
        t1=$(now)
        t=$(elapsed "$t0" "$t1")
        if [[ -z "$best" ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best="$t"
        fi
    done
    echo "$best"
}

annotated=$(best "$WORK/annotated")
plain=$(best "$WORK/plain")
ratio=$(awk -v a="$annotated" -v p="$plain" 'BEGIN { printf "%.2f", a / p }')

echo "== clean build of the macro crate (retry-macros with proc-macro2, quote, syn)"
export CARGO_TARGET_DIR="$WORK/target-macros"
t0=$(now)
(cd "$ROOT" && cargo build --quiet "${PROFILE_FLAG[@]}" -p retry-macros)
t1=$(now)
macros_clean=$(elapsed "$t0" "$t1")
(cd "$ROOT" && cargo clean --quiet "${PROFILE_FLAG[@]}" -p retry-macros)
t0=$(now)
(cd "$ROOT" && cargo build --quiet "${PROFILE_FLAG[@]}" -p retry-macros)
t1=$(now)
macros_alone=$(elapsed "$t0" "$t1")

cat <<REPORT

Compile time ($PROFILE profile, best of $RUNS, $(nproc) cores, rustc $(rustc --version | cut -d' ' -f2))

| crate | build time (s) |
|---|---:|
| $FUNCTIONS functions with #[retry] | $annotated |
| the same $FUNCTIONS functions plain | $plain |
| ratio | $ratio |

| macro crate | build time (s) |
|---|---:|
| retry-macros from clean, with its dependencies | $macros_clean |
| retry-macros alone (rebuild) | $macros_alone |
REPORT

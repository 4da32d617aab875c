#!/usr/bin/env bash
# Compile time of #[retry] next to its peers, on the same bodies: generates four crates of
# FUNCTIONS async functions each (plain; with #[retry]; with backon-macros' #[backon]; with
# backon's closure API, `(|| async { .. }).retry(..)`), and reports the best of RUNS for
# `cargo check` (what every edit and rust-analyzer pay) and `cargo build`, as seconds, as the
# time added over the plain crate, and as ratios. Also reports the clean build of retry-macros.
#
#   benchmarks/scripts/compile-time.sh            # dev profile, best of 5
#   PROFILE=release RUNS=3 benchmarks/scripts/compile-time.sh
#
# Everything is built in a scratch directory (removed afterwards; KEEP=1 keeps it), with one
# target directory for the four crates, so their dependencies are built once, beforehand, and
# only the generated crates are timed. With valgrind installed it also counts the instructions
# rustc executes to check each crate, a figure that does not move with the machine's load.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PROFILE="${PROFILE:-dev}"
RUNS="${RUNS:-5}"
FUNCTIONS="${FUNCTIONS:-200}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/retry-compile-time.XXXXXX")"
if [[ "${KEEP:-0}" != 1 ]]; then
    trap 'rm -rf "$WORK"' EXIT
fi
export CARGO_TARGET_DIR="$WORK/target"
PROFILE_FLAG=(--profile "$PROFILE")

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# The same body in every crate: an await, a reference argument and a `?`-free branch, which
# all four forms accept.
body() { # $1 = function number
    echo "    tokio::task::yield_now().await;
    if key.len() as u64 == client.id + $1 { Err(Error($1)) } else { Ok(client.id + $1) }"
}

generate() { # $1 = crate name, $2 = kind: plain | retry | backon-attr | backon-closure
    local dir="$WORK/$1" kind="$2"
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
retry-runtime = { path = "$ROOT/retry-runtime" }
tokio = { version = "1.40", features = ["time", "rt"] }
backon = "1.6"
backon-macros = "1"

[workspace]
TOML
    {
        echo '#![allow(dead_code, unused_imports, clippy::all)]'
        echo 'use backon::Retryable;'
        echo '#[derive(Debug, Clone)] pub struct Error(pub u64);'
        echo 'pub struct Client { pub id: u64 }'
        for ((i = 0; i < FUNCTIONS; i++)); do
            case "$kind" in
                plain) echo "pub async fn f$i(client: &Client, key: &str) -> Result<u64, Error> {
$(body "$i")
}" ;;
                retry) echo "#[retry_runtime::retry(attempts = 3, base = \"100ms\")]
pub async fn f$i(client: &Client, key: &str) -> Result<u64, Error> {
$(body "$i")
}" ;;
                backon-attr) echo "#[backon_macros::backon]
pub async fn f$i(client: &Client, key: &str) -> Result<u64, Error> {
$(body "$i")
}" ;;
                backon-closure) echo "pub async fn f$i(client: &Client, key: &str) -> Result<u64, Error> {
    (|| async {
$(body "$i")
    })
    .retry(backon::ExponentialBuilder::default().with_max_times(2))
    .await
}" ;;
            esac
        done
    } > "$dir/src/lib.rs"
}

# KINDS="plain retry" measures a subset (plain must be in it).
read -r -a KINDS <<<"${KINDS:-plain retry backon-attr backon-closure}"
for kind in "${KINDS[@]}"; do
    generate "ct-$kind" "$kind"
done

run() { # $1 = crate, $2 = check | build
    (cd "$WORK/$1" && cargo "$2" --quiet "${PROFILE_FLAG[@]}" >/dev/null 2>&1) || {
        echo "cargo $2 of $1 failed" >&2
        (cd "$WORK/$1" && cargo "$2" "${PROFILE_FLAG[@]}" >&2)
        exit 1
    }
}

echo "== warming up: building the dependencies ($PROFILE profile)"
for kind in "${KINDS[@]}"; do
    run "ct-$kind" check
    run "ct-$kind" build
done

best() { # $1 = crate, $2 = check | build; best of $RUNS runs of the crate alone
    local best="" t0 t1 t
    for ((r = 0; r < RUNS; r++)); do
        touch "$WORK/$1/src/lib.rs"
        t0=$(now)
        run "$1" "$2"
        t1=$(now)
        t=$(elapsed "$t0" "$t1")
        if [[ -z "$best" ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best="$t"
        fi
    done
    echo "$best"
}

declare -A CHECK BUILD
for kind in "${KINDS[@]}"; do
    CHECK[$kind]=$(best "ct-$kind" check)
    BUILD[$kind]=$(best "ct-$kind" build)
done

# Timings on a shared machine move by tens of percent; the instructions rustc executes to check a
# crate (the macro's own run included: it is loaded into rustc) move by well under 1%. Counted
# with callgrind on the exact rustc command cargo runs, without incremental compilation.
declare -A INSTR
if command -v valgrind >/dev/null; then
    echo "== instructions of rustc checking each crate (callgrind)"
    for kind in "${KINDS[@]}"; do
        touch "$WORK/ct-$kind/src/lib.rs"
        cmd=$(cd "$WORK/ct-$kind" && cargo check -v "${PROFILE_FLAG[@]}" 2>&1 |
            sed -n 's/^ *Running `\(.*rustc --crate-name ct_.*\)`$/\1/p' | tail -1 |
            sed 's/-C incremental=[^ ]*//')
        INSTR[$kind]=$(cd "$WORK/ct-$kind" && eval "valgrind --tool=callgrind --callgrind-out-file=/dev/null $cmd" 2>&1 |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    done
fi

echo "== clean build of the macro crate (retry-macros with proc-macro2, quote, syn)"
export CARGO_TARGET_DIR="$WORK/target-macros"
t0=$(now)
(cd "$ROOT" && cargo build --quiet "${PROFILE_FLAG[@]}" -p retry-macros)
t1=$(now)
macros_clean=$(elapsed "$t0" "$t1")

row() { # $1 = label, $2 = kind
    awk -v label="$1" -v c="${CHECK[$2]}" -v b="${BUILD[$2]}" \
        -v pc="${CHECK[plain]}" -v pb="${BUILD[plain]}" 'BEGIN {
        printf "| %s | %.2f | %+.2f | %.2f | %.2f | %+.2f | %.2f |\n", label, c, c - pc, c / pc, b, b - pb, b / pb
    }'
}

cat <<REPORT

Compile time of $FUNCTIONS async functions ($PROFILE profile, best of $RUNS, $(nproc) cores, rustc $(rustc --version | cut -d' ' -f2))

| crate | check (s) | over plain | ratio | build (s) | over plain | ratio |
|---|---:|---:|---:|---:|---:|---:|
$(for kind in "${KINDS[@]}"; do
    case "$kind" in
        plain) row "plain" plain ;;
        retry) row "#[retry]" retry ;;
        backon-attr) row "backon-macros #[backon]" backon-attr ;;
        backon-closure) row "backon closure API" backon-closure ;;
    esac
done)

retry-macros from clean, with its dependencies: ${macros_clean} s
REPORT

if [[ -n "${INSTR[plain]:-}" ]]; then
    echo
    echo "Instructions rustc executes for \`cargo check\` of each crate (callgrind; deterministic to well under 1%)"
    echo
    echo "| crate | instructions (G) | over plain (G) | over plain, relative to #[backon] |"
    echo "|---|---:|---:|---:|"
    for kind in "${KINDS[@]}"; do
        case "$kind" in
            plain) label="plain" ;;
            retry) label="#[retry]" ;;
            backon-attr) label="backon-macros #[backon]" ;;
            backon-closure) label="backon closure API" ;;
        esac
        awk -v label="$label" -v i="${INSTR[$kind]}" -v p="${INSTR[plain]}" -v b="${INSTR[backon-attr]:-0}" 'BEGIN {
            rel = (b > p) ? sprintf("%.2f", (i - p) / (b - p)) : "n/a"
            printf "| %s | %.2f | %+.2f | %s |\n", label, i / 1e9, (i - p) / 1e9, rel
        }'
    done
fi

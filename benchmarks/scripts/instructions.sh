#!/usr/bin/env bash
# Instructions per call of #[retry] and its peers, counted by callgrind (deterministic, unlike
# timings on a shared machine). Each scenario of benchmarks/benches/instructions.rs runs twice under
# `valgrind --tool=callgrind`, with LOW and HIGH calls; the difference in instructions divided
# by the difference in calls is the cost of one call, start-up and one-time costs cancelled.
#
#   benchmarks/scripts/instructions.sh              # every scenario
#   benchmarks/scripts/instructions.sh 'async: '    # the scenarios whose name contains this
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
LOW="${LOW:-1000}"
HIGH="${HIGH:-11000}"
FILTER="${1:-}"

exe=$(cargo bench -p retry-benchmarks --bench instructions --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*instructions[^"]*"' | tail -n 1 | cut -d'"' -f4)
[[ -x "$exe" ]] || { echo "could not build benchmarks/benches/instructions.rs" >&2; exit 1; }

count() { # $1 = scenario, $2 = calls; prints the instructions executed
    local out
    out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$1" "$2" 2>&1) || {
        echo "$out" >&2
        return 1
    }
    echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo "| scenario | instructions per call |"
echo "|---|---:|"
while IFS= read -r scenario; do
    [[ -z "$FILTER" || "$scenario" == *"$FILTER"* ]] || continue
    low=$(count "$scenario" "$LOW")
    high=$(count "$scenario" "$HIGH")
    awk -v s="$scenario" -v l="$low" -v h="$high" -v a="$LOW" -v b="$HIGH" \
        'BEGIN { printf "| %s | %.1f |\n", s, (h - l) / (b - a) }'
done < <("$exe" --list-scenarios)

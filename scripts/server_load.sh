#!/usr/bin/env bash
# Bounded load test of `talkie serve` on loopback: starts the server on the
# default model (or --model), then for 1, 4 and 16 concurrent clients sends a
# fixed number of /v1/completions requests (each generating exactly
# MAX_TOKENS tokens: ignore_eos) and reports requests/s and tokens/s.
# Bounded: REQUESTS requests per level, curl --max-time per request, and a
# whole-run time limit. Loopback only.
#
# usage: scripts/server_load.sh [--talkie PATH] [--model PATH] [--requests N]
#                               [--max-tokens N] [--threads N] [--port N]
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
talkie="${TALKIE:-$here/build-srv/talkie}"
model=""
requests=32
max_tokens=64
threads=0
port=18080
while [[ $# -gt 0 ]]; do
  case "$1" in
    --talkie) talkie="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --max-tokens) max_tokens="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -x "$talkie" ]] || { echo "no talkie binary at $talkie (build it, or --talkie PATH)" >&2; exit 2; }
(( requests >= 1 && requests <= 1000 )) || { echo "--requests must be in [1, 1000]" >&2; exit 2; }

url="http://127.0.0.1:$port"
log="$(mktemp)"
server_args=(serve --host 127.0.0.1 --port "$port" --max-batch 16 --queue 64 --threads "$threads")
[[ -n "$model" ]] && server_args+=(--model "$model")
"$talkie" "${server_args[@]}" 2>"$log" &
server_pid=$!
cleanup() { kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

for _ in $(seq 1 200); do
  curl -sf --max-time 1 "$url/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf --max-time 1 "$url/health" >/dev/null || { echo "server did not start:" >&2; cat "$log" >&2; exit 1; }
head -1 "$log"

# One client: `count` sequential requests; prints completion_tokens per request.
client() {
  local id="$1" count="$2"
  for i in $(seq 1 "$count"); do
    local body="{\"prompt\": \"In the beginning\", \"max_tokens\": $max_tokens, \"ignore_eos\": true, \"temperature\": 0.8, \"seed\": $((id * 1000 + i))}"
    { curl -s --max-time 120 -H 'Content-Type: application/json' -d "$body" "$url/v1/completions"; echo; } |
      sed -n 's/.*"completion_tokens":\([0-9]*\).*/\1/p'
  done
}

printf '%-8s %-9s %-9s %-10s %-10s\n' clients requests seconds "req/s" "tok/s"
for clients in 1 4 16; do
  per_client=$(( (requests + clients - 1) / clients ))
  out="$(mktemp)"
  start=$(date +%s.%N)
  pids=()
  for c in $(seq 1 "$clients"); do
    client "$c" "$per_client" >>"$out" &
    pids+=($!)
  done
  wait "${pids[@]}"  # the clients only (not the server); each curl has --max-time
  end=$(date +%s.%N)
  done_requests=$(grep -c . "$out" || true)
  tokens=$(awk '{s += $1} END {print s + 0}' "$out")
  rm -f "$out"
  awk -v c="$clients" -v n="$done_requests" -v t="$tokens" -v s="$start" -v e="$end" \
    'BEGIN { d = e - s; printf "%-8d %-9d %-9.2f %-10.2f %-10.1f\n", c, n, d, n / d, t / d }'
done

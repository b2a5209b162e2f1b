# Shared helpers of the peers/ scripts (sourced, not executed).
#
# Layout, outside the repository (PEERS_HOME, default /tmp/peers):
#   $PEERS_HOME/<name>/venv                   the server's own virtualenv (cached)
#   $PEERS_HOME/<name>/installed-<version>    marker: the venv holds that version
#   $PEERS_HOME/<name>/run-<port>/            pid, serve.log, config of one running server
#   $PEERS_HOME/<gateway>/run-<port>/upstream "ENGINE PORT" of the engine the gateway started
# Servers started by other tools (another run directory) are never touched.

PEERS_HOME="${PEERS_HOME:-/tmp/peers}"
PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { echo "[peers:$PEER] $*" >&2; }

# make_venv DIR: create DIR/venv with the machine's python3 when it is missing.
make_venv() { [ -x "$1/venv/bin/python" ] || python3 -m venv "$1/venv"; }

# stop_pid RUN: stop the process whose pid is in RUN/pid (SIGINT, then TERM, then KILL).
# SIGINT first: uvicorn-based servers (and vLLM's child processes) shut down cleanly on it,
# and plain SIGTERM does not stop `transformers serve` promptly.
stop_pid() {
  local run="$1" pid
  [ -f "$run/pid" ] || return 0
  pid="$(cat "$run/pid")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; sleep 3; fi
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$run/pid"
}

# stop_run RUN: stop the server of RUN, then the upstream engine it started (RUN/upstream).
stop_run() {
  local run="$1" engine port
  stop_pid "$run"
  if [ -f "$run/upstream" ]; then
    read -r engine port < "$run/upstream"
    stop_pid "$PEERS_HOME/$engine/run-$port"
    rm -f "$run/upstream"
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_http URL PID TIMEOUT_S LOGFILE: wait until URL answers 200; fail if PID dies first.
wait_http() {
  local url="$1" pid="$2" timeout="$3" logf="$4" code
  for _ in $(seq 1 "$timeout"); do
    code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$url" || true)"
    [ "$code" = 200 ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server exited during start-up; last log lines:"; tail -n 30 "$logf" >&2; return 1
    fi
    sleep 1
  done
  log "no answer from $url within ${timeout}s; last log lines:"; tail -n 30 "$logf" >&2
  return 1
}

# launch RUN HEALTH_URL TIMEOUT CMD...: start CMD in the background on loopback, record its
# pid in RUN/pid, wait for HEALTH_URL, and stop it again if it never answers.
launch() {
  local run="$1" health="$2" timeout="$3"; shift 3
  nohup "$@" > "$run/serve.log" 2>&1 < /dev/null &
  echo $! > "$run/pid"
  log "started pid $(cat "$run/pid"), log $run/serve.log"
  wait_http "$health" "$(cat "$run/pid")" "$timeout" "$run/serve.log" || { stop_pid "$run"; return 1; }
}

# prepare PORT: the run directory for PORT (stopping a server this tool left there) or fail
# when the port is taken by something else.
prepare() {
  RUN="$PEERS_HOME/$PEER/run-$1"
  mkdir -p "$RUN"
  stop_run "$RUN"
  if port_in_use "$1"; then log "port $1 is already in use"; return 1; fi
}

# start_upstream ENGINE PORT: print the base URL of ENGINE (a peers/start-ENGINE.sh) on
# 127.0.0.1:PORT. An ENGINE this tool already runs there (its pid alive, /v1/models
# answering) is reused and left alone; otherwise it is started and recorded in RUN/upstream,
# so that stopping the gateway (stop.sh, stop_run) stops it too. Call after `prepare`.
start_upstream() {
  local engine="$1" port="$2" run="$PEERS_HOME/$1/run-$2"
  if [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null \
     && curl -sf -m 5 -o /dev/null "http://127.0.0.1:$port/v1/models"; then
    log "reusing $engine (pid $(cat "$run/pid")) on 127.0.0.1:$port"
  else
    echo "$engine $port" > "$RUN/upstream"
    "$PEERS_DIR/start-$engine.sh" "$port" > /dev/null || return 1
  fi
  echo "http://127.0.0.1:$port/v1"
}

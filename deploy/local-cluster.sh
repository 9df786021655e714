#!/usr/bin/env bash
# A shardmq cluster on this machine, one process per tier, the way Kubernetes runs it:
# a private nats-server (JetStream, temp dir), one session, one router, one auth and two gateway
# processes (two MQTT ports). Prints the ports, stops everything on Ctrl-C.
#
# usage: deploy/local-cluster.sh [--base-port N]
#   --base-port N   fixed ports: NATS N, gateway MQTT N+1 and N+2, /metrics /healthz /readyz from N+10
#                   (default: free ports chosen by the OS)
# env:
#   any SHARDMQ_* setting is passed to every process (e.g. SHARDMQ_AUTH_DATABASE_URL=postgres://...,
#   SHARDMQ_LOG_LEVEL=debug); without a database every device is accepted (a warning is logged).
#   NATS_SERVER   nats-server binary (default: from PATH or /usr/sbin)
#   KEEP_TMP=1    keep the temp dir (logs, JetStream store) after stopping
# Needs: node, a build (npx tsc -b) and nats-server 2.9+ (apt-get install nats-server).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLI="$ROOT/dist/bin/shardmq.js"
BASE_PORT=""

while [ $# -gt 0 ]; do
  case "$1" in
    --base-port) BASE_PORT="${2:?--base-port needs a number}"; shift 2 ;;
    --base-port=*) BASE_PORT="${1#*=}"; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "local-cluster: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ ! -f "$CLI" ]; then
  echo "local-cluster: $CLI is missing; build first: (cd $ROOT && npx tsc -b)" >&2
  exit 1
fi
NATS_SERVER="${NATS_SERVER:-$(command -v nats-server || true)}"
[ -n "$NATS_SERVER" ] || [ ! -x /usr/sbin/nats-server ] || NATS_SERVER=/usr/sbin/nats-server
if [ -z "$NATS_SERVER" ]; then
  echo "local-cluster: nats-server not found (apt-get install nats-server, or set NATS_SERVER)" >&2
  exit 1
fi

# Tiers, in start order (the gateways last: they accept devices once the rest is there).
TIERS=(router session auth gateway-1 gateway-2)

# Ports: NATS, 2 MQTT, one HTTP per tier.
NPORTS=$((3 + ${#TIERS[@]}))
if [ -n "$BASE_PORT" ]; then
  PORTS=($BASE_PORT $((BASE_PORT + 1)) $((BASE_PORT + 2)))
  for i in "${!TIERS[@]}"; do PORTS+=($((BASE_PORT + 10 + i))); done
else
  # Holds all the listeners open at once so the OS hands out distinct ports.
  read -r -a PORTS <<<"$(node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    const servers = [];
    let left = n;
    for (let i = 0; i < n; i++) {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        if (--left === 0) { console.log(servers.map((x) => x.address().port).join(" ")); servers.forEach((x) => x.close()); }
      });
      servers.push(s);
    }' "$NPORTS")"
fi
NATS_PORT=${PORTS[0]}
MQTT_PORT_1=${PORTS[1]}
MQTT_PORT_2=${PORTS[2]}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shardmq-local-XXXXXX")
mkdir -p "$WORK/jetstream" "$WORK/logs"
declare -A PIDS=()
STOPPING=0

stop_all() {
  [ "$STOPPING" = 1 ] && return
  STOPPING=1
  trap - INT TERM
  echo
  echo "local-cluster: stopping (gateways drain first)..."
  # Reverse start order: gateways, then auth, session, router; each gets SIGTERM and time to
  # hand off, then SIGKILL.
  for ((i = ${#TIERS[@]} - 1; i >= 0; i--)); do
    local t=${TIERS[$i]} pid=${PIDS[${TIERS[$i]}]:-}
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "local-cluster: $t did not stop within 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${PIDS[nats]:-}" ]; then
    kill -TERM "${PIDS[nats]}" 2>/dev/null || true
    wait "${PIDS[nats]}" 2>/dev/null || true
  fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    echo "local-cluster: kept $WORK"
  else
    rm -rf "$WORK"
  fi
  echo "local-cluster: stopped"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() {
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$1"
}

fail_start() {
  echo "local-cluster: $1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && { echo "--- last lines of $2:" >&2; tail -n 20 "$2" >&2; }
  exit 1
}

# ---- NATS with JetStream, private to this run
# setsid: own session, so a Ctrl-C reaches only this script, which then stops the tiers in order.
setsid "$NATS_SERVER" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$WORK/jetstream" >"$WORK/logs/nats.log" 2>&1 &
PIDS[nats]=$!
for _ in $(seq 1 100); do port_open "$NATS_PORT" && break; sleep 0.1; done
port_open "$NATS_PORT" || fail_start "nats-server did not start" "$WORK/logs/nats.log"

# ---- the tiers
for i in "${!TIERS[@]}"; do
  t=${TIERS[$i]}
  role=${t%%-*}
  http_port=${PORTS[$((3 + i))]}
  mqtt_port=0
  [ "$t" = gateway-1 ] && mqtt_port=$MQTT_PORT_1
  [ "$t" = gateway-2 ] && mqtt_port=$MQTT_PORT_2
  setsid env SHARDMQ_ROLES="$role" \
    SHARDMQ_NATS_URL="nats://127.0.0.1:$NATS_PORT" \
    SHARDMQ_NODE_ID="local-$t" \
    SHARDMQ_HTTP_HOST=127.0.0.1 SHARDMQ_HTTP_PORT="$http_port" \
    SHARDMQ_MQTT_HOST=127.0.0.1 SHARDMQ_MQTT_PORT="$mqtt_port" \
    node --max-semi-space-size=16 --min-semi-space-size=16 "$CLI" start >"$WORK/logs/$t.log" 2>&1 &
  PIDS[$t]=$!
done

# ---- wait until every tier answers /readyz
for i in "${!TIERS[@]}"; do
  t=${TIERS[$i]}
  url="http://127.0.0.1:${PORTS[$((3 + i))]}/readyz"
  for _ in $(seq 1 300); do
    kill -0 "${PIDS[$t]}" 2>/dev/null || fail_start "$t exited during start-up" "$WORK/logs/$t.log"
    http_ok "$url" && break
    sleep 0.1
  done
  http_ok "$url" || fail_start "$t is not ready after 30 s ($url)" "$WORK/logs/$t.log"
done

echo "local-cluster: shardmq is up"
echo "  NATS            nats://127.0.0.1:$NATS_PORT   (JetStream store $WORK/jetstream)"
echo "  MQTT gateway-1  127.0.0.1:$MQTT_PORT_1"
echo "  MQTT gateway-2  127.0.0.1:$MQTT_PORT_2"
for i in "${!TIERS[@]}"; do
  printf '  %-15s http://127.0.0.1:%s/metrics  /healthz  /readyz   pid %s\n' "${TIERS[$i]}" "${PORTS[$((3 + i))]}" "${PIDS[${TIERS[$i]}]}"
done
echo "  logs            $WORK/logs/*.log"
echo "  try: mosquitto_sub -p $MQTT_PORT_2 -t 'demo/#' -v &  mosquitto_pub -p $MQTT_PORT_1 -t demo/1 -m hello"
echo "local-cluster: Ctrl-C stops everything"

# ---- run until Ctrl-C, or until a process dies (then stop the rest)
while :; do
  for name in nats "${TIERS[@]}"; do
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      code=0
      wait "${PIDS[$name]}" 2>/dev/null || code=$?
      unset "PIDS[$name]"
      echo "local-cluster: $name exited (status $code); stopping the cluster" >&2
      [ -f "$WORK/logs/$name.log" ] && tail -n 20 "$WORK/logs/$name.log" >&2
      KEEP_TMP=1
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true
done

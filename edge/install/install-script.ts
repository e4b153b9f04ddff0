/**
 * GET /install.sh: the node installer, with this control plane's URL and apps domain filled in.
 * Public on purpose: it holds no secret (the join token and the proxy's database URL are the user's
 * arguments). It installs built JavaScript only, static assets of this Worker:
 * /install/zectre-agent.mjs (dev/build-agent.ts) and /install/zectre-proxy.mjs (dev/build-proxy.ts).
 */
import type { IRequest } from 'itty-router';
import type { Deps } from '../deps.js';
import { publicUrl } from '../env.js';

/** The agent's one dependency that cannot be bundled: uWebSockets.js is a native binary (hyper-express's JS is in the bundle). */
const NATIVE_DEPS = { 'uWebSockets.js': 'npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0' };

export function installScript(_request: IRequest, deps: Deps): Response {
  const script = SCRIPT.replaceAll('__API__', publicUrl(deps.env)).replaceAll('__APPS_DOMAIN__', deps.env.APPS_DOMAIN).replace('__PACKAGE_JSON__', JSON.stringify({
    name: 'zectre-agent',
    private: true,
    type: 'module',
    dependencies: NATIVE_DEPS,
  }));
  return new Response(script, { headers: { 'content-type': 'text/x-shellscript; charset=utf-8', 'cache-control': 'no-store' } });
}

// POSIX sh inside a JS template literal: no dollar-brace sequences, no backticks, no backslashes.
const SCRIPT = `#!/bin/sh
# Zectre node installer (agent + proxy), served by the control plane at __API__/install.sh
#   curl -fsSL __API__/install.sh | sh -s -- --join-token T --proxy-database-url URL [options]
#   curl -fsSL __API__/install.sh | sh -s -- --uninstall [--prefix DIR]
set -eu
API="__API__"
APPS_DOMAIN="__APPS_DOMAIN__"
USAGE="usage: sh -s -- --join-token T (--proxy-database-url URL | --no-proxy) [--prefix DIR] [--no-systemd] [--name N] [--port P] [--address IP] [--push-url URL] [--labels builder,k=v] [--proxy-port P] [--proxy-env KEY=VALUE]...; or: sh -s -- --uninstall [--prefix DIR]"
TOKEN=""
PREFIX="/opt/zectre"
SYSTEMD=1
NAME=""
LABELS=""
PORT=""
ADDRESS=""
PUSH_URL=""
PROXY=1
PROXY_DB=""
PROXY_PORT="80"
PROXY_ENV=""
UNINSTALL=0
PROXY_USER="zectre-proxy"
fail() { echo "zectre install: error: $*" >&2; exit 1; }
say() { echo "zectre install: $*" >&2; }
need_value() { [ "$1" -ge 2 ] || fail "$2 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --join-token) need_value $# "$1"; TOKEN="$2"; shift 2 ;;
    --prefix) need_value $# "$1"; PREFIX="$2"; shift 2 ;;
    --name) need_value $# "$1"; NAME="$2"; shift 2 ;;
    --labels) need_value $# "$1"; LABELS="$2"; shift 2 ;;
    --port) need_value $# "$1"; PORT="$2"; shift 2 ;;
    --address) need_value $# "$1"; ADDRESS="$2"; shift 2 ;;
    --push-url) need_value $# "$1"; PUSH_URL="$2"; shift 2 ;;
    --proxy-database-url) need_value $# "$1"; PROXY_DB="$2"; shift 2 ;;
    --proxy-port) need_value $# "$1"; PROXY_PORT="$2"; shift 2 ;;
    --proxy-env) need_value $# "$1"; case "$2" in *=*) PROXY_ENV="$PROXY_ENV
$2" ;; *) fail "--proxy-env takes KEY=VALUE, got $2" ;; esac; shift 2 ;;
    --no-proxy) PROXY=0; shift ;;
    --no-systemd) SYSTEMD=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    *) fail "unknown option $1 ($USAGE)" ;;
  esac
done
is_root() { [ "$(id -u)" = 0 ]; }
have_systemd() { command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

# Kills a pid file's process and, with its uid map, every task the agent started.
stop_pidfile() { [ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null || true; }
stop_tasks() {
  if [ -f "$PREFIX/state/uids.json" ] && is_root; then
    for uid in $(node -e 'for (const u of Object.values(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")))) console.log(u)' "$PREFIX/state/uids.json" 2>/dev/null); do
      pkill -KILL -U "$uid" 2>/dev/null || true
    done
  fi
  # Tasks run in directories under PREFIX/work (also when the agent is not root and shares its uid).
  for d in /proc/[0-9]*; do
    case "$(readlink "$d/cwd" 2>/dev/null || true)" in "$PREFIX/work"/*) kill -KILL "$(basename "$d")" 2>/dev/null || true ;; esac
  done
}

if [ "$UNINSTALL" = 1 ]; then
  [ -d "$PREFIX" ] || fail "nothing installed in $PREFIX (pass --prefix DIR if you installed elsewhere)"
  if have_systemd; then
    for unit in zectre-agent zectre-proxy; do
      if [ -f "/etc/systemd/system/$unit.service" ]; then
        systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
        rm -f "/etc/systemd/system/$unit.service"
      fi
    done
    systemctl daemon-reload
  fi
  stop_pidfile "$PREFIX/agent.pid"
  stop_pidfile "$PREFIX/proxy.pid"
  stop_tasks
  rm -rf "$PREFIX"
  if is_root && id "$PROXY_USER" >/dev/null 2>&1; then userdel "$PROXY_USER" 2>/dev/null || true; fi
  say "uninstalled: services, tasks and $PREFIX removed (the control plane will list this node as down)"
  exit 0
fi

[ -n "$TOKEN" ] || fail "missing --join-token: create a join token on the control plane (zectre join-tokens create)"
if [ "$PROXY" = 1 ] && [ -z "$PROXY_DB" ]; then
  fail "missing --proxy-database-url: on the control plane run 'DATABASE_URL=<owner URL> npm run proxy-role -- <this VM>' and pass the URL it prints, or pass --no-proxy for a node that serves no traffic"
fi
command -v node >/dev/null 2>&1 || fail "Node.js 20 or newer is required, but 'node' is not on PATH: install it first (https://nodejs.org/en/download or your distribution's nodejs package)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || fail "Node.js $(node --version) is too old: the agent needs Node.js 20 or newer"
command -v npm >/dev/null 2>&1 || fail "npm is required (it ships with Node.js) to install the agent's HTTP server"
command -v curl >/dev/null 2>&1 || fail "curl is required"
curl -fsS -o /dev/null --max-time 15 "$API/healthz" 2>/dev/null || fail "cannot reach the control plane at $API (GET $API/healthz failed): check the URL, DNS and firewall"
# The register endpoint checks the join token before the body: 401 means the token is refused.
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 15 -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}' "$API/scheduler/v1/nodes/register")
[ "$STATUS" != 401 ] || fail "the join token was refused by $API (invalid, expired or revoked): create a new one"
if [ "$SYSTEMD" = 1 ]; then
  have_systemd || fail "systemd is not running here: rerun with --no-systemd and the installer starts the agent and the proxy itself"
fi
NODE_BIN=$(command -v node)

mkdir -p "$PREFIX/lib" "$PREFIX/bin" "$PREFIX/state" "$PREFIX/work"
# state: credential, task records, logs, artifacts (root-only). work: one 0700 directory per task,
# owned by its project's uid, reached through the prefix (o+x) but not listable (0711).
chmod 700 "$PREFIX/state"
chmod 711 "$PREFIX/work"
chmod 755 "$PREFIX" "$PREFIX/lib" "$PREFIX/bin"
is_root || say "warning: not running as root: the agent will run every app as your uid, next to its credential"

# Downloads go to a temporary name first: an upgrade in place swaps the files only once complete.
fetch_js() {
  say "downloading $1 from $API/install/$1"
  curl -fsSL --max-time 120 "$API/install/$1" -o "$PREFIX/lib/$1.tmp" || fail "downloading $1 from $API failed"
  mv "$PREFIX/lib/$1.tmp" "$PREFIX/lib/$1"
}
fetch_js zectre-agent.mjs
echo '__PACKAGE_JSON__' > "$PREFIX/lib/package.json"
say "installing the agent's native HTTP server with npm"
(cd "$PREFIX/lib" && npm install --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error >&2) || fail "npm install in $PREFIX/lib failed (see above)"

OLD_UMASK=$(umask)
umask 077 # agent.env holds the join token, proxy.env the proxy's database password
{
  echo "ZECTRE_API_URL='$API'"
  echo "ZECTRE_JOIN_TOKEN='$TOKEN'"
  echo "ZECTRE_AGENT_STATE_DIR='$PREFIX/state'"
  echo "ZECTRE_AGENT_WORK_DIR='$PREFIX/work'"
  [ -z "$NAME" ] || echo "ZECTRE_AGENT_NAME='$NAME'"
  [ -z "$PORT" ] || echo "ZECTRE_AGENT_PORT='$PORT'"
  [ -z "$ADDRESS" ] || echo "ZECTRE_AGENT_ADDRESS='$ADDRESS'"
  [ -z "$PUSH_URL" ] || echo "ZECTRE_AGENT_PUSH_URL='$PUSH_URL'"
  [ -z "$LABELS" ] || echo "ZECTRE_AGENT_LABELS='$LABELS'"
} > "$PREFIX/agent.env"
if [ "$PROXY" = 1 ]; then
  {
    echo "DATABASE_URL='$PROXY_DB'"
    echo "ZECTRE_APPS_DOMAIN='$APPS_DOMAIN'"
    echo "ZECTRE_PROXY_HOST='0.0.0.0'"
    echo "ZECTRE_PROXY_PORT='$PROXY_PORT'"
    echo "ZECTRE_PROXY_STATE_DIR='$PREFIX/proxy-state'"
    echo "ZECTRE_PROXY_AGENT_URL='http://127.0.0.1:$(if [ -n "$PORT" ]; then echo "$PORT"; else echo 7070; fi)'"
    [ -z "$NAME" ] || echo "ZECTRE_PROXY_ID='$NAME'"
    # See node-proxy/launch.ts: glibc keeps freed heap for streaming throughput.
    echo "MALLOC_TOP_PAD_=67108864"
    echo "MALLOC_TRIM_THRESHOLD_=67108864"
    echo "$PROXY_ENV" | while IFS= read -r kv; do [ -z "$kv" ] || echo "$kv"; done
  } > "$PREFIX/proxy.env"
fi
umask "$OLD_UMASK"
cat > "$PREFIX/bin/zectre-agent" <<EOF
#!/bin/sh
set -a
. "$PREFIX/agent.env"
set +a
exec "$NODE_BIN" "$PREFIX/lib/zectre-agent.mjs"
EOF
chmod 755 "$PREFIX/bin/zectre-agent"

if [ "$PROXY" = 1 ]; then
  fetch_js zectre-proxy.mjs
  mkdir -p "$PREFIX/proxy-state"
  chmod 700 "$PREFIX/proxy-state"
  cat > "$PREFIX/bin/zectre-proxy" <<EOF
#!/bin/sh
set -a
. "$PREFIX/proxy.env"
set +a
exec "$NODE_BIN" --max-semi-space-size=4 "$PREFIX/lib/zectre-proxy.mjs"
EOF
  chmod 755 "$PREFIX/bin/zectre-proxy"
  if [ "$SYSTEMD" = 1 ] && is_root; then
    # The proxy needs no root: a system user of its own, which task uids cannot signal or read.
    id "$PROXY_USER" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PROXY_USER" || fail "useradd $PROXY_USER failed"
    chown "$PROXY_USER" "$PREFIX/proxy-state"
  fi
fi

if [ "$SYSTEMD" = 1 ]; then
  cat > /etc/systemd/system/zectre-agent.service <<EOF
[Unit]
Description=Zectre node agent
After=network-online.target
Wants=network-online.target

[Service]
# Root: the agent switches each project's tasks to an unprivileged uid of their own (setuid needs
# root), and keeps its state and credential root-only.
User=root
ExecStart=$PREFIX/bin/zectre-agent
Restart=always
RestartSec=2
# 78 = configuration error (e.g. a refused join token): restarting would not help.
RestartPreventExitStatus=78
# Tasks outlive agent restarts and upgrades (the agent re-adopts them), so stop only its own process.
KillMode=process
# Lets the agent set per-task cgroup limits below its own cgroup.
Delegate=yes

[Install]
WantedBy=multi-user.target
EOF
  if [ "$PROXY" = 1 ]; then
    cat > /etc/systemd/system/zectre-proxy.service <<EOF
[Unit]
Description=Zectre node proxy
After=network-online.target zectre-agent.service
Wants=network-online.target

[Service]
User=$PROXY_USER
EnvironmentFile=$PREFIX/proxy.env
ExecStart=$NODE_BIN --max-semi-space-size=4 $PREFIX/lib/zectre-proxy.mjs
# Ports below 1024 without root.
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=$PREFIX/proxy-state
Restart=always
RestartSec=1
# SIGTERM drains: in-flight requests finish within ZECTRE_PROXY_SHUTDOWN_GRACE_MS (30 s).
TimeoutStopSec=40

[Install]
WantedBy=multi-user.target
EOF
  fi
  systemctl daemon-reload
  systemctl enable zectre-agent.service >&2
  # restart, not start: an upgrade in place picks up the new files; tasks keep running (KillMode=process).
  systemctl restart zectre-agent.service >&2
  if [ "$PROXY" = 1 ]; then
    systemctl enable zectre-proxy.service >&2
    systemctl restart zectre-proxy.service >&2
  fi
  LOG_HINT="journalctl -u zectre-agent -u zectre-proxy"
else
  # An upgrade in place: the old agent leaves its tasks running and the new one re-adopts them.
  stop_pidfile "$PREFIX/agent.pid"
  stop_pidfile "$PREFIX/proxy.pid"
  nohup "$PREFIX/bin/zectre-agent" >> "$PREFIX/agent.log" 2>&1 &
  echo $! > "$PREFIX/agent.pid"
  if [ "$PROXY" = 1 ]; then
    nohup "$PREFIX/bin/zectre-proxy" >> "$PREFIX/proxy.log" 2>&1 &
    echo $! > "$PREFIX/proxy.pid"
  fi
  LOG_HINT="$PREFIX/agent.log and $PREFIX/proxy.log"
fi

say "waiting for the agent to register"
i=0
while [ ! -f "$PREFIX/state/identity.json" ]; do
  if [ "$SYSTEMD" = 0 ] && ! kill -0 "$(cat "$PREFIX/agent.pid")" 2>/dev/null; then
    tail -n 20 "$PREFIX/agent.log" >&2
    fail "the agent exited before registering (log: $LOG_HINT)"
  fi
  i=$((i + 1))
  [ "$i" -le 120 ] || fail "the agent has not registered after 60 s (log: $LOG_HINT)"
  sleep 0.5
done
NODE_ID=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).nodeId' "$PREFIX/state/identity.json")
if [ "$PROXY" = 1 ] && [ "$SYSTEMD" = 0 ]; then
  i=0
  until grep -q 'proxy ready' "$PREFIX/proxy.log" 2>/dev/null; do
    kill -0 "$(cat "$PREFIX/proxy.pid")" 2>/dev/null || { tail -n 20 "$PREFIX/proxy.log" >&2; fail "the proxy exited at startup (log: $PREFIX/proxy.log)"; }
    i=$((i + 1))
    [ "$i" -le 120 ] || fail "the proxy is not ready after 60 s (log: $PREFIX/proxy.log)"
    sleep 0.5
  done
fi
say "node $NODE_ID registered with $API; installed in $PREFIX (log: $LOG_HINT)$(if [ "$PROXY" = 1 ]; then echo "; proxy on port $PROXY_PORT"; fi)"
`;

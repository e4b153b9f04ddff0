/**
 * GET /install.sh: the node installer, with this control plane's URL filled in. Public on purpose:
 * it holds no secret (the join token is the user's argument) and fetches the agent bundle, a static
 * asset at /install/zectre-agent.mjs (built by dev/build-agent.ts).
 */
import type { IRequest } from 'itty-router';
import type { Deps } from '../deps.js';
import { publicUrl } from '../env.js';

/** The agent's one dependency that cannot be bundled: uWebSockets.js is a native binary (hyper-express's JS is in the bundle). */
const NATIVE_DEPS = { 'uWebSockets.js': 'npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0' };

export function installScript(_request: IRequest, deps: Deps): Response {
  const script = SCRIPT.replaceAll('__API__', publicUrl(deps.env)).replace('__PACKAGE_JSON__', JSON.stringify({
    name: 'zectre-agent',
    private: true,
    type: 'module',
    dependencies: NATIVE_DEPS,
  }));
  return new Response(script, { headers: { 'content-type': 'text/x-shellscript; charset=utf-8', 'cache-control': 'no-store' } });
}

// POSIX sh inside a JS template literal: no dollar-brace sequences, no backticks, no backslashes.
const SCRIPT = `#!/bin/sh
# Zectre node agent installer, served by the control plane at __API__/install.sh
#   curl -fsSL __API__/install.sh | sh -s -- --join-token T [--prefix DIR] [--no-systemd] [--name N] [--port P] [--address IP] [--push-url URL]
set -eu
API="__API__"
TOKEN=""
PREFIX="/opt/zectre-agent"
SYSTEMD=1
NAME=""
PORT=""
ADDRESS=""
PUSH_URL=""
fail() { echo "zectre install: error: $*" >&2; exit 1; }
say() { echo "zectre install: $*" >&2; }
need_value() { [ "$1" -ge 2 ] || fail "$2 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --join-token) need_value $# "$1"; TOKEN="$2"; shift 2 ;;
    --prefix) need_value $# "$1"; PREFIX="$2"; shift 2 ;;
    --name) need_value $# "$1"; NAME="$2"; shift 2 ;;
    --port) need_value $# "$1"; PORT="$2"; shift 2 ;;
    --address) need_value $# "$1"; ADDRESS="$2"; shift 2 ;;
    --push-url) need_value $# "$1"; PUSH_URL="$2"; shift 2 ;;
    --no-systemd) SYSTEMD=0; shift ;;
    *) fail "unknown option $1 (usage: sh -s -- --join-token T [--prefix DIR] [--no-systemd] [--name N] [--port P] [--address IP] [--push-url URL])" ;;
  esac
done
[ -n "$TOKEN" ] || fail "missing --join-token: create a join token on the control plane (POST $API/api/v1/join-tokens)"
command -v node >/dev/null 2>&1 || fail "Node.js 20 or newer is required, but 'node' is not on PATH: install it first (https://nodejs.org/en/download or your distribution's nodejs package)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || fail "Node.js $(node --version) is too old: the agent needs Node.js 20 or newer"
command -v npm >/dev/null 2>&1 || fail "npm is required (it ships with Node.js) to install the agent's HTTP server"
command -v curl >/dev/null 2>&1 || fail "curl is required"
curl -fsS -o /dev/null --max-time 15 "$API/healthz" 2>/dev/null || fail "cannot reach the control plane at $API (GET $API/healthz failed): check the URL, DNS and firewall"
# The register endpoint checks the join token before the body: 401 means the token is refused.
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 15 -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}' "$API/scheduler/v1/nodes/register")
[ "$STATUS" != 401 ] || fail "the join token was refused by $API (invalid, expired or revoked): create a new one"

mkdir -p "$PREFIX/lib" "$PREFIX/bin" "$PREFIX/state" "$PREFIX/work"
# state: credential, task records, logs, artifacts (root-only). work: one 0700 directory per task,
# owned by its project's uid, reached through the prefix (o+x) but not listable (0711).
chmod 700 "$PREFIX/state"
chmod 711 "$PREFIX/work"
chmod o+x "$PREFIX"
[ "$(id -u)" = 0 ] || say "warning: not running as root: the agent will run every app as your uid, next to its credential"
say "downloading the agent from $API/install/zectre-agent.mjs"
curl -fsSL --max-time 120 "$API/install/zectre-agent.mjs" -o "$PREFIX/lib/zectre-agent.mjs.tmp" || fail "downloading the agent from $API failed"
mv "$PREFIX/lib/zectre-agent.mjs.tmp" "$PREFIX/lib/zectre-agent.mjs"
echo '__PACKAGE_JSON__' > "$PREFIX/lib/package.json"
say "installing the agent's native HTTP server with npm"
(cd "$PREFIX/lib" && npm install --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error >&2) || fail "npm install in $PREFIX/lib failed (see above)"

OLD_UMASK=$(umask)
umask 077 # agent.env holds the join token
{
  echo "ZECTRE_API_URL='$API'"
  echo "ZECTRE_JOIN_TOKEN='$TOKEN'"
  echo "ZECTRE_AGENT_STATE_DIR='$PREFIX/state'"
  echo "ZECTRE_AGENT_WORK_DIR='$PREFIX/work'"
  [ -z "$NAME" ] || echo "ZECTRE_AGENT_NAME='$NAME'"
  [ -z "$PORT" ] || echo "ZECTRE_AGENT_PORT='$PORT'"
  [ -z "$ADDRESS" ] || echo "ZECTRE_AGENT_ADDRESS='$ADDRESS'"
  [ -z "$PUSH_URL" ] || echo "ZECTRE_AGENT_PUSH_URL='$PUSH_URL'"
} > "$PREFIX/agent.env"
umask "$OLD_UMASK"
cat > "$PREFIX/bin/zectre-agent" <<EOF
#!/bin/sh
set -a
. "$PREFIX/agent.env"
set +a
exec "$(command -v node)" "$PREFIX/lib/zectre-agent.mjs"
EOF
chmod 755 "$PREFIX/bin/zectre-agent"

if [ "$SYSTEMD" = 1 ]; then
  command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] || fail "systemd is not running here: rerun with --no-systemd and start $PREFIX/bin/zectre-agent yourself"
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
# Tasks outlive agent restarts (the agent re-adopts them), so stop only the agent's own process.
KillMode=process
# Lets the agent set per-task cgroup v2 limits below its own cgroup.
Delegate=yes

[Install]
WantedBy=multi-user.target
EOF
  systemctl daemon-reload
  systemctl enable --now zectre-agent.service >&2
  LOG_HINT="journalctl -u zectre-agent"
else
  nohup "$PREFIX/bin/zectre-agent" >> "$PREFIX/agent.log" 2>&1 &
  echo $! > "$PREFIX/agent.pid"
  LOG_HINT="$PREFIX/agent.log"
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
say "node $NODE_ID registered with $API; agent in $PREFIX (log: $LOG_HINT)"
`;

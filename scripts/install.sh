#!/usr/bin/env bash
# Installs, upgrades or removes the Berth agent on this machine.
#
# A Berth control plane serves this file at GET /agent/v1/install.sh with its own endpoint and the
# agent bundle's sha256 filled in (core/agent-api/install-script.ts):
#
#   curl -fsSL ENDPOINT/agent/v1/install.sh | sudo bash -s -- \
#     --activation-id ID --activation-code CODE [--cluster NAME]
#
# Run from a checkout, it needs --endpoint (and reads the checksum from the endpoint).
# Everything happens inside main(), called on the last line: a download cut short runs nothing.

set -euo pipefail

# Filled in by the control plane that serves this script.
endpoint_default='__BERTH_ENDPOINT__'
agent_sha256_default='__BERTH_AGENT_SHA256__'

# Where things go; overridable so that tests (and unusual hosts) can install elsewhere.
prefix=${BERTH_PREFIX:-/opt/berth}
config_dir=${BERTH_CONFIG_DIR:-/etc/berth}
data_dir=${BERTH_DATA_DIR:-/var/lib/berth}
log_dir=${BERTH_LOG_DIR:-/var/log/berth}
systemd_dir=${BERTH_SYSTEMD_DIR:-/etc/systemd/system}
registration_timeout=${BERTH_INSTALL_TIMEOUT:-90}

unit=berth-agent
unit_file="$systemd_dir/$unit.service"
agent_file="$prefix/lib/berth-agent.mjs"
wrapper="$prefix/bin/berth-agent"
config_file="$config_dir/agent.json"
env_file="$config_dir/agent.env"
identity_file="$data_dir/identity.json"
state_file="$data_dir/state.json"
pid_file="$data_dir/agent.pid"
log_file="$log_dir/agent.log"

usage() {
  cat <<'EOF'
Usage: install.sh --activation-id ID --activation-code CODE [options]
       install.sh --uninstall

Installs the Berth agent under /opt/berth, writes /etc/berth/agent.json and a systemd unit
(berth-agent), starts it and waits until this machine is registered. Running it again upgrades
the agent in place and keeps the registration (the activation is not used again).

  --activation-id ID        from `aws ssm create-activation` (first install only)
  --activation-code CODE    (first install only)
  --cluster NAME            the cluster to join (default: "default")
  --endpoint URL            the control plane (default: the one that served this script)
  --attribute NAME=VALUE    a custom attribute for placement constraints, repeatable
  --no-start                install and enable, but do not start the agent now
  --no-systemd              run the agent as a background process instead of a systemd unit
                            (also BERTH_INSTALL_NO_SYSTEMD=1; used when systemd is not running)
  --uninstall               stop the agent, remove its task containers, files and unit
  -h, --help                this text

Environment: BERTH_PREFIX, BERTH_CONFIG_DIR, BERTH_DATA_DIR, BERTH_LOG_DIR, BERTH_SYSTEMD_DIR
(install locations), BERTH_NODE (the node binary), BERTH_INSTALL_TIMEOUT (seconds to wait for
the registration, default 90).
EOF
}

say() { printf 'berth: %s\n' "$*"; }
warn() { printf 'berth: warning: %s\n' "$*" >&2; }
fail() {
  printf 'berth: error: %s\n' "$*" >&2
  exit 1
}

# --- checks -----------------------------------------------------------------------------------

node_bin=''
find_node() {
  node_bin=${BERTH_NODE:-$(command -v node || true)}
  local why=''
  if [ -z "$node_bin" ] || [ ! -x "$node_bin" ]; then
    why='Node.js was not found'
  else
    local major
    major=$("$node_bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$major" -lt 20 ]; then why="Node.js $("$node_bin" --version 2>/dev/null || echo '?') is too old"; fi
  fi
  [ -z "$why" ] && return 0
  cat >&2 <<EOF
berth: error: $why. The Berth agent needs Node.js 20 or later.
  Debian 13, Ubuntu 24.04 or later:  sudo apt-get install -y nodejs
  Older Debian/Ubuntu (NodeSource):  curl -fsSL https://deb.nodesource.com/setup_22.x | sudo bash - \\
                                       && sudo apt-get install -y nodejs
  Fedora/RHEL:                       sudo dnf install -y nodejs   (check that it is 20 or later)
  Anything else:                     https://nodejs.org/en/download
If Node is installed where root does not look (nvm), point to it:
  ... | sudo BERTH_NODE=/path/to/bin/node bash -s -- ...
EOF
  exit 1
}

check_docker() {
  local why=''
  if ! command -v docker >/dev/null 2>&1; then
    why='Docker is not installed'
  elif ! docker info >/dev/null 2>&1; then
    why='Docker is installed but its daemon does not answer (`docker info` failed)'
  fi
  [ -z "$why" ] && return 0
  cat >&2 <<EOF
berth: error: $why. The Berth agent runs tasks with Docker.
  Debian/Ubuntu:  sudo apt-get install -y docker.io && sudo systemctl enable --now docker
  Fedora/RHEL:    sudo dnf install -y moby-engine && sudo systemctl enable --now docker
  Anything else:  https://docs.docker.com/engine/install/
Then run this installer again.
EOF
  exit 1
}

systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# Paths end up inside single quotes in the wrapper script.
check_paths() {
  local path
  for path in "$prefix" "$config_dir" "$data_dir" "$log_dir" "$systemd_dir" "$node_bin"; do
    case $path in
      /*) ;;
      *) fail "install paths must be absolute, got '$path'" ;;
    esac
    case $path in *"'"*) fail "install paths must not contain quotes: $path" ;; esac
  done
}

# --- files ------------------------------------------------------------------------------------

download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 --retry-delay 1 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    # Node (needed anyway) has fetch: a machine without curl or wget can still install.
    "$node_bin" -e '
      fetch(process.argv[1]).then(async (response) => {
        if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
        require("fs").writeFileSync(process.argv[2], Buffer.from(await response.arrayBuffer()));
      }).catch((error) => { console.error(`${process.argv[1]}: ${error.message}`); process.exit(1); });
    ' "$1" "$2"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    "$node_bin" -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$1"
  fi
}

work_dir=''
cleanup() {
  if [ -n "$work_dir" ]; then rm -rf "$work_dir"; fi
}
trap cleanup EXIT

# Downloads the agent, checks its sha256 and that it runs on this Node, then moves it into place.
install_agent_file() {
  mkdir -p "$prefix/lib" "$prefix/bin"
  work_dir=$(mktemp -d "$prefix/lib/.download.XXXXXX")
  local downloaded="$work_dir/berth-agent.mjs" expected actual
  say "downloading the agent from $endpoint"
  download "$endpoint/agent/v1/berth-agent.mjs" "$downloaded" || fail "could not download $endpoint/agent/v1/berth-agent.mjs"
  if [ "$endpoint" = "$endpoint_default" ] && [[ $agent_sha256_default =~ ^[0-9a-f]{64}$ ]]; then
    expected=$agent_sha256_default
  else
    # Not served by this endpoint (a checkout, or --endpoint elsewhere): ask it for the checksum.
    download "$endpoint/agent/v1/berth-agent.mjs.sha256" "$work_dir/sha256" || fail 'could not download the agent checksum'
    expected=$(cut -d' ' -f1 <"$work_dir/sha256")
  fi
  actual=$(sha256_of "$downloaded")
  if [ "$actual" != "$expected" ]; then
    fail "the downloaded agent's sha256 is $actual, expected $expected (was the control plane upgraded meanwhile? run the installer again)"
  fi
  if ! "$node_bin" "$downloaded" --help >/dev/null 2>&1; then
    fail "the downloaded agent does not run on $("$node_bin" --version)"
  fi
  chmod 0644 "$downloaded"
  mv -f "$downloaded" "$agent_file"
  say "agent installed: $agent_file (sha256 ${actual:0:12}…)"
}

install_wrapper() {
  local temp="$wrapper.tmp"
  cat >"$temp" <<EOF
#!/bin/sh
# Written by the Berth installer: runs the agent with this machine's settings. Variables such as
# HTTPS_PROXY go in $env_file (NAME=value lines).
if [ -f '$env_file' ]; then set -a; . '$env_file'; set +a; fi
exec '$node_bin' '$agent_file' --data-dir '$data_dir' --config '$config_file' "\$@"
EOF
  chmod 0755 "$temp"
  mv -f "$temp" "$wrapper"
}

# The agent's config file (agent/config.ts reads the same keys as its flags, in camelCase). The
# activation is written only until the agent has registered: after that the identity in the data
# dir is what counts, and the code is a secret better not left on disk.
write_config() {
  local with_activation=$1
  mkdir -p "$config_dir"
  BERTH_CFG_FILE=$config_file BERTH_CFG_ENDPOINT=$endpoint BERTH_CFG_CLUSTER=$cluster \
    BERTH_CFG_ID=$([ "$with_activation" = yes ] && printf '%s' "$activation_id") \
    BERTH_CFG_CODE=$([ "$with_activation" = yes ] && printf '%s' "$activation_code") \
    BERTH_CFG_ATTRIBUTES=$attributes \
    "$node_bin" -e '
      const fs = require("fs");
      const env = process.env;
      const config = { endpoint: env.BERTH_CFG_ENDPOINT };
      if (env.BERTH_CFG_CLUSTER) config.cluster = env.BERTH_CFG_CLUSTER;
      if (env.BERTH_CFG_ID) config.activationId = env.BERTH_CFG_ID;
      if (env.BERTH_CFG_CODE) config.activationCode = env.BERTH_CFG_CODE;
      const attributes = env.BERTH_CFG_ATTRIBUTES.split("\n").filter(Boolean);
      if (attributes.length) config.attributes = attributes;
      const temp = env.BERTH_CFG_FILE + ".tmp";
      fs.writeFileSync(temp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
      fs.renameSync(temp, env.BERTH_CFG_FILE);
    '
}

write_unit() {
  mkdir -p "$systemd_dir"
  cat >"$unit_file.tmp" <<EOF
# Written by the Berth installer.
[Unit]
Description=Berth agent (runs this machine's Berth tasks with Docker)
After=network-online.target docker.service
Wants=network-online.target
Requires=docker.service

[Service]
Type=simple
ExecStart=$wrapper
Restart=always
RestartSec=5
# Only the agent is stopped: its task containers keep running, and the next start adopts them.
KillMode=process
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
EOF
  mv -f "$unit_file.tmp" "$unit_file"
  if command -v systemd-analyze >/dev/null 2>&1; then
    local output
    if ! output=$(systemd-analyze verify "$unit_file" 2>&1) || [[ $output == *"$unit.service"* ]]; then
      printf '%s\n' "$output" >&2
      fail "systemd-analyze verify rejected $unit_file"
    fi
  fi
}

identity_field() {
  "$node_bin" -p "JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).$1" "$identity_file"
}

# --- running ----------------------------------------------------------------------------------

background_pid() {
  [ -f "$pid_file" ] || return 1
  local pid
  pid=$(cat "$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # A stale pid file may name a process that reused the number: only ours (the wrapper, or the
  # agent it became) counts.
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then grep -qa -e "$agent_file" -e "$wrapper" "/proc/$pid/cmdline" || return 1; fi
  printf '%s' "$pid"
}

stop_background() {
  local pid
  pid=$(background_pid) || { rm -f "$pid_file"; return 0; }
  say "stopping the agent (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null && [ $waited -lt 150 ]; do
    sleep 0.2
    waited=$((waited + 1))
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

start_background() {
  mkdir -p "$log_dir"
  nohup "$wrapper" >>"$log_file" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$pid_file"
  say "agent started in the background (pid $!, log $log_file)"
}

agent_failed() {
  if [ "$mode" = systemd ]; then
    local state
    state=$(systemctl show -p ActiveState -p SubState --value "$unit" 2>/dev/null | tr '\n' ' ')
    [[ $state == failed* || $state == *auto-restart* ]]
  else
    ! background_pid >/dev/null
  fi
}

show_logs() {
  if [ "$mode" = systemd ]; then
    journalctl -u "$unit" -n 30 --no-pager >&2 || true
  else
    tail -n 30 "$log_file" >&2 || true
  fi
}

wait_for_registration() {
  local deadline=$((SECONDS + registration_timeout))
  say 'waiting for the agent to register…'
  until [ -s "$identity_file" ]; do
    if agent_failed; then
      show_logs
      fail 'the agent stopped before it registered (its log is above)'
    fi
    if [ $SECONDS -ge $deadline ]; then
      show_logs
      fail "the agent did not register within ${registration_timeout}s (its log is above)"
    fi
    sleep 0.5
  done
}

# --- commands ---------------------------------------------------------------------------------

do_install() {
  if [[ ! $endpoint =~ ^https?://[^/\']+ ]]; then
    fail 'no control plane endpoint: pass --endpoint URL (or download this script from the control plane)'
  fi
  if [ "$mode" = systemd ] && ! systemd_running; then
    warn 'systemd is not running here: the agent runs as a background process and will not start at boot'
    mode=background
  fi
  find_node
  check_docker
  check_paths
  if [ "$mode" = systemd ] && [ "$(id -u)" != 0 ]; then fail 'run the installer as root (sudo)'; fi

  local registered=no
  if [ -s "$identity_file" ]; then
    registered=yes
    say "already registered as $(identity_field containerInstanceArn): upgrading in place (the activation is not used again)"
  elif [ -z "$activation_id" ] || [ -z "$activation_code" ]; then
    fail 'a first install needs --activation-id and --activation-code (from `aws ssm create-activation`)'
  fi

  mkdir -p "$data_dir" "$config_dir"
  chmod 0700 "$data_dir"
  install_agent_file
  install_wrapper
  if [ $registered = yes ]; then write_config no; else write_config yes; fi
  write_unit

  if [ "$mode" = systemd ]; then
    systemctl daemon-reload
    systemctl enable --quiet "$unit"
    if [ "$start" = no ]; then
      say "installed; start it with: systemctl start $unit"
      return
    fi
    # restart, not start: an upgrade replaces a running agent (which adopts its containers).
    systemctl restart "$unit"
  else
    stop_background
    if [ "$start" = no ]; then
      say "installed; start it with: nohup $wrapper >>$log_file 2>&1 &"
      return
    fi
    start_background
  fi

  if [ $registered = no ]; then
    wait_for_registration
    write_config no
  fi
  say "container instance: $(identity_field containerInstanceArn)"
  say "cluster: $(identity_field cluster)"
  if [ "$mode" = systemd ]; then
    say "the agent runs as the systemd unit $unit (logs: journalctl -u $unit -f)"
  fi
}

remove_task_containers() {
  [ -s "$state_file" ] || return 0
  command -v docker >/dev/null 2>&1 || return 0
  local arn ids
  # The tasks this agent ran, from its own state: other containers on the machine are not ours.
  for arn in $("$node_bin" -e 'for (const arn of Object.keys(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).tasks ?? {})) console.log(arn)' "$state_file"); do
    ids=$(docker ps -aq --filter "label=berth.task-arn=$arn")
    # shellcheck disable=SC2086 # one id a word
    [ -n "$ids" ] && docker rm -f $ids >/dev/null
    ids=$(docker volume ls -q --filter "label=berth.task-arn=$arn")
    # shellcheck disable=SC2086
    [ -n "$ids" ] && docker volume rm $ids >/dev/null
  done
  return 0
}

do_uninstall() {
  node_bin=${BERTH_NODE:-$(command -v node || true)}
  local arn='' cluster_name='' registered_with=''
  if [ -s "$identity_file" ] && [ -n "$node_bin" ]; then
    arn=$(identity_field containerInstanceArn)
    cluster_name=$(identity_field cluster)
    registered_with=$(identity_field endpoint)
  fi
  if systemd_running && [ -f "$unit_file" ]; then
    systemctl disable --now --quiet "$unit" || true
  fi
  stop_background
  [ -n "$node_bin" ] && remove_task_containers
  rm -f "$unit_file"
  systemd_running && systemctl daemon-reload || true
  rm -rf "$prefix" "$config_dir" "$data_dir" "$log_dir"
  say 'the Berth agent is uninstalled (its task containers are removed)'
  if [ -n "$arn" ]; then
    say 'the container instance is still registered; deregister it with:'
    say "  aws ecs deregister-container-instance --endpoint-url $registered_with --cluster $cluster_name --container-instance $arn --force"
  fi
}

main() {
  activation_id=''
  activation_code=''
  cluster=''
  endpoint=$endpoint_default
  attributes=''
  start=yes
  mode=systemd
  local action=install
  [ "${BERTH_INSTALL_NO_SYSTEMD:-}" = 1 ] && mode=background
  while [ $# -gt 0 ]; do
    case $1 in
      --activation-id) activation_id=${2:?--activation-id needs a value}; shift ;;
      --activation-code) activation_code=${2:?--activation-code needs a value}; shift ;;
      --cluster) cluster=${2:?--cluster needs a value}; shift ;;
      --endpoint) endpoint=${2:?--endpoint needs a value}; shift ;;
      --attribute) attributes+="${2:?--attribute needs NAME=VALUE}"$'\n'; shift ;;
      --no-start) start=no ;;
      --no-systemd) mode=background ;;
      --uninstall) action=uninstall ;;
      -h | --help) usage; return 0 ;;
      *) usage >&2; fail "unknown option: $1" ;;
    esac
    shift
  done
  endpoint=${endpoint%/}
  "do_$action"
}

main "$@"

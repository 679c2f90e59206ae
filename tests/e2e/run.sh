#!/usr/bin/env bash
# The end-to-end tests (`make e2e`): PostgreSQL from Debian's packages, Meltano and
# meltanolabs-tap-postgres from PyPI, target-pardot from this checkout, and the Pardot
# emulator, all on this machine. Needs network access to the package registries only.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
PYTHON=${PYTHON:-python3}
# Meltano gets its own virtualenv: its pins must not decide ours, nor ours its.
MELTANO_VERSION=4.4.1
E2E_VENV=.venv-e2e

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && ! command -v initdb >/dev/null; then
  echo "e2e: installing PostgreSQL (Debian package 'postgresql')" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

make install
if [ ! -f "$E2E_VENV/.meltano-$MELTANO_VERSION" ]; then
  rm -rf "$E2E_VENV"
  "$PYTHON" -m venv "$E2E_VENV"
  "$E2E_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "meltano==$MELTANO_VERSION"
  touch "$E2E_VENV/.meltano-$MELTANO_VERSION"
fi

status=0
E2E_MELTANO="$PWD/$E2E_VENV/bin/meltano" \
  .venv/bin/pytest tests/e2e -m e2e -p no:cacheprovider -v "$@" || status=$?
echo "e2e: $(( $(date +%s) - started )) s in all, installs included" >&2
exit "$status"

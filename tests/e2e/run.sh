#!/usr/bin/env bash
# The end-to-end tests (`make e2e`): PostgreSQL from Debian's packages, Meltano,
# meltanolabs-tap-postgres and tap-pardot from PyPI, target-pardot from the wheel that
# `make dist` built (Meltano adds it with --from-ref hub/target-pardot.yml), and the Pardot
# emulator, all on this machine. Needs network access to the package registries only.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
PYTHON=${PYTHON:-python3}
# Meltano gets its own virtualenv: its pins must not decide ours, nor ours its.
MELTANO_VERSION=4.4.1
E2E_VENV=.venv-e2e
# tap-pardot gets its own virtualenv next to Meltano's: it pins singer-python 5.13.2.
TAP_PARDOT_VERSION=1.4.9
TAP_VENV=.venv-tap-pardot

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

if [ ! -f "$TAP_VENV/.tap-pardot-$TAP_PARDOT_VERSION" ]; then
  rm -rf "$TAP_VENV"
  "$PYTHON" -m venv "$TAP_VENV"
  "$TAP_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "tap-pardot==$TAP_PARDOT_VERSION"
  touch "$TAP_VENV/.tap-pardot-$TAP_PARDOT_VERSION"
fi

# Build the wheel and check it in a fresh virtualenv; Meltano then installs target-pardot
# from that wheel (the README's `meltano add` line points uv at dist/ with UV_FIND_LINKS).
make wheel-check

status=0
E2E_MELTANO="$PWD/$E2E_VENV/bin/meltano" E2E_TAP_PARDOT_PYTHON="$PWD/$TAP_VENV/bin/python" \
  .venv/bin/pytest tests/e2e -m e2e -p no:cacheprovider -v "$@" || status=$?
echo "e2e: $(( $(date +%s) - started )) s in all, installs included" >&2
exit "$status"

#!/usr/bin/env bash
# Install what Switchboard needs on Debian 12: system packages (when run as root) and a
# virtual environment in .venv with the package in editable mode.
#   scripts/install.sh run    what `switchboard serve` needs
#   scripts/install.sh test   that, plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

packages=(python3 python3-venv python3-dev gcc libsndfile1)
# The Asterisk prompts (GSM 6.10) in /usr/share/asterisk/sounds; the -en/-fr packages add
# the en, en_US, fr and fr_CA links to the recorded sets (they are only recommended).
packages+=(asterisk-core-sounds-en-gsm asterisk-core-sounds-en asterisk-core-sounds-fr-gsm asterisk-core-sounds-fr)
if [ "$mode" = test ]; then
    # Debian's Chromium for the web console's browser tests (Playwright drives it; its own
    # browser download is never used).
    packages+=(sip-tester baresip-core linphone-cli tcpdump chromium)
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "installing system packages: ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "missing system packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
extras="[native]"
[ "$mode" = test ] && extras="[native,test]"
stamp=".venv/.installed-$mode-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".$extras"
    touch "$stamp"
fi
# The SIP core compiled with mypyc (skipped when its sources are unchanged). The tests must
# run what is deployed, so a failed build stops them; the PBX itself then runs from source.
if ! .venv/bin/python scripts/build_native.py; then
    [ "$mode" = test ] && exit 1
    echo "warning: the SIP core runs from source, slower (see build/native.log)" >&2
fi

#!/usr/bin/env bash
# Create .venv (if missing) and install facesight from this checkout with everything it can
# use (the video and eval extras), wheels and pure-Python packages only.
# Usage: scripts/setup.sh [extras]   e.g. scripts/setup.sh test (which includes video and eval)
# With the test extras, as root on Debian, also installs the system tools the tests drive:
# headless Chromium + its WebDriver (report pages) and ExifTool (XMP sidecars).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

# Debian packages the tests need; installed only when missing, so a set-up machine pays nothing.
system_test_packages=(chromium chromium-driver libimage-exiftool-perl)

install_system_test_packages() {
  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    echo "setup.sh: not Debian; install ${system_test_packages[*]} yourself" >&2
    return 0
  fi
  local missing=() pkg
  for pkg in "${system_test_packages[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
      missing+=("$pkg")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: not root; install ${missing[*]} with apt-get as root" >&2
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  local apt_install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
  # Refresh the package lists only when there are none or installing from them fails
  # (stale lists name versions the mirror no longer has).
  if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null \
    || ! "${apt_install[@]}" >/dev/null; then
    apt-get update -qq
    "${apt_install[@]}" >/dev/null
  fi
}

python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[video,eval${extras:+,$extras}]"
python -m pip check

case ",$extras," in
  *,test,*) install_system_test_packages ;;
esac

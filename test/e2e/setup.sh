#!/usr/bin/env bash
# Installs what the editor end-to-end test needs: Debian's Chromium and the build dependencies of
# code-server, and code-server@4.100.3 itself (VS Code 1.100.3, the last release on Node 20) in a
# cache folder OUTSIDE the project's node_modules, so `npm ci` stays fast and the install is reused.
# Follows ../shared/design/environment.md: the ripgrep download is pre-seeded from Debian's binary
# because nothing but the npm registry and Debian are reachable.
# Usage: bash test/e2e/setup.sh        (prints the code-server path on its last line)
set -euo pipefail
VERSION=4.100.3
CACHE="${TRELLIS_E2E_CACHE:-$HOME/.cache/trellis-e2e}"
BIN="$CACHE/node_modules/.bin/code-server"

if [ -x "$BIN" ] && [ "$(cat "$CACHE/.installed" 2>/dev/null)" = "$VERSION" ] && [ -x /usr/bin/chromium ]; then
  echo "code-server $VERSION already installed in $CACHE"
  echo "$BIN"
  exit 0
fi

# 1. Debian packages (only the missing ones; apt-get update first, as on a clean CI machine).
pkgs=(build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev ripgrep chromium)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. @vscode/ripgrep's postinstall would download rg from GitHub: give it Debian's rg instead,
#    under the exact cache name it looks for, in the folder os.tmpdir() names.
TMP="$(node -p "require('os').tmpdir()")"
RG_CACHE="$TMP/vscode-ripgrep-cache-1.15.11"
RG_TAR="$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$RG_TAR" ]; then
  mkdir -p "$RG_CACHE"
  stage="$(mktemp -d)"
  cp "$(command -v rg)" "$stage/rg"
  tar -czf "$RG_TAR" -C "$stage" rg
  rm -rf "$stage"
fi

# 3. code-server itself, in its own folder with its own package.json.
mkdir -p "$CACHE"
cd "$CACHE"
[ -f package.json ] || echo '{"name":"trellis-e2e-cache","private":true}' > package.json
# node-pty's install script calls `npx node-gyp`: npm_config_yes answers npx's prompt.
npm_config_yes=true ONNXRUNTIME_NODE_INSTALL=skip \
  npm install "code-server@$VERSION" --foreground-scripts --unsafe-perm --no-audit --no-fund
"$BIN" --version
echo "$VERSION" > "$CACHE/.installed"
echo "$BIN"

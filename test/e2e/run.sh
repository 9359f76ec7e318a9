#!/usr/bin/env bash
# The editor end-to-end test, as CI runs it: install code-server + Chromium (cached outside the
# project), package the extension, then drive the workbench (test/e2e/codeServer.test.ts).
# Screenshots and logs land in test-output/e2e/.
set -euo pipefail
cd "$(dirname "$0")/../.."
CODE_SERVER="$(bash test/e2e/setup.sh | tail -n 1)"
export CODE_SERVER
npm run package
mkdir -p test-output/e2e
npx mocha --no-config --require tsx/cjs --timeout 600000 --retries 1 --reporter spec test/e2e/codeServer.test.ts

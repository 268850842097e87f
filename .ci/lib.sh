# Shared by .ci/serve and .ci/test: installs what the build needs into .tools/ (git-ignored;
# Chromium from apt) and puts it first on PATH. Each step says what it does; a step whose tool
# is already present at the pinned version costs a version check only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
BINARYEN_VERSION=132.0.0
CARGO_DENY_VERSION=0.20.2
GECKODRIVER_VERSION=0.37.1
WASM_SPLIT_VERSION=0.2.4
export PATH="$TOOLS/bin:$TOOLS/node_modules/.bin:$PATH"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
cd "$ROOT"

# Tools are built for this machine's own use, not for shipping: no LTO, parallel codegen and
# light optimisation. cargo-deny's manifest asks for fat LTO with one codegen unit, which cost
# minutes of CI's time on two cores for a tool whose speed does not matter here.
tool_build() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_INCREMENTAL=false "$@"
}

step() { printf '\n==> [%4d s] %s\n' "$SECONDS" "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# The wasm-bindgen version the client locks (Cargo.lock), which every tool must match.
locked_wasm_bindgen() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

ensure_rust() {
  step "Rust toolchain from rust-toolchain.toml (with the wasm32 target, rustfmt, clippy)"
  rustup toolchain install --no-self-update >/dev/null 2>&1 || rustup show active-toolchain
  rustup target add wasm32-unknown-unknown
  rustup component add rustfmt clippy
  cargo --version
}

ensure_wasm_bindgen() {
  local want
  want=$(locked_wasm_bindgen)
  if ! grep -q "\"=$want\"" "$ROOT/.ci/wasm-bindgen-tools/Cargo.toml"; then
    echo "error: .ci/wasm-bindgen-tools pins another wasm-bindgen than Cargo.lock ($want): update it" >&2
    exit 1
  fi
  if have wasm-bindgen && [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $want" ] &&
    have wasm-bindgen-test-runner; then
    step "wasm-bindgen $want and its test runner: present"
    return
  fi
  step "wasm-bindgen $want and its test runner: building from crates.io into .tools (about 2 minutes)"
  tool_build cargo build --release --locked \
    --manifest-path "$ROOT/.ci/wasm-bindgen-tools/Cargo.toml" \
    --target-dir "$TOOLS/build/wasm-bindgen-tools"
  mkdir -p "$TOOLS/bin"
  cp "$TOOLS/build/wasm-bindgen-tools/release/wasm-bindgen-cli" "$TOOLS/bin/wasm-bindgen"
  cp "$TOOLS/build/wasm-bindgen-tools/release/wasm-bindgen-test-runner" "$TOOLS/bin/wasm-bindgen-test-runner"
  wasm-bindgen --version
}

ensure_wasm_opt() {
  # Never Debian's binaryen: its wasm-opt 108 emits modules that fail to load (TOOLCHAIN.md).
  if [ -x "$TOOLS/node_modules/.bin/wasm-opt" ] &&
    "$TOOLS/node_modules/.bin/wasm-opt" --version | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    step "wasm-opt (binaryen $BINARYEN_VERSION from npm): present"
    return
  fi
  step "wasm-opt: installing binaryen@$BINARYEN_VERSION from npm into .tools"
  have npm || { echo "error: npm is needed for binaryen (apt-get install -y npm)" >&2; exit 1; }
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION"
  wasm-opt --version
}

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

ensure_chromium() {
  if have chromium && have chromedriver; then
    step "Chromium and chromedriver: present ($(chromium --version 2>/dev/null | head -n 1))"
    return
  fi
  step "Chromium and chromedriver: installing from Debian (apt-get)"
  apt_install chromium chromium-driver
  chromium --version
}

# The three engines recipients use (TOOLCHAIN.md "Other browser engines"): Chromium, Firefox
# (Debian's firefox-esr; geckodriver from crates.io, as its releases are on GitHub) and WebKit,
# Safari's engine (Debian's WebKitWebDriver and MiniBrowser, on a virtual display).
ensure_browsers() {
  ensure_chromium
  local packages=()
  have firefox-esr || packages+=(firefox-esr)
  have WebKitWebDriver || packages+=(webkit2gtk-driver)
  have xvfb-run || packages+=(xvfb)
  have xauth || packages+=(xauth)
  if [ ${#packages[@]} -gt 0 ]; then
    step "Firefox ESR and WebKit: installing ${packages[*]} from Debian (apt-get)"
    apt_install "${packages[@]}"
  fi
  step "Firefox: $(firefox-esr --version 2>/dev/null | head -n 1); WebKit: $(dpkg-query -W -f '${Version}' webkit2gtk-driver 2>/dev/null)"
  if have geckodriver && geckodriver --version | grep -q "^geckodriver $GECKODRIVER_VERSION"; then
    step "geckodriver $GECKODRIVER_VERSION: present"
    return
  fi
  step "geckodriver $GECKODRIVER_VERSION: installing into .tools (cargo install --locked, about 2 minutes)"
  tool_build cargo install geckodriver --version "$GECKODRIVER_VERSION" --locked --root "$TOOLS"
}

# axe-core, the accessibility checker the browser tests run on every page: from npm, at the
# version and integrity tests/axe/package-lock.json pins (npm ci checks the tarball's sha512).
ensure_axe() {
  have npm || apt_install npm
  local installed="$ROOT/tests/axe/node_modules/axe-core/package.json"
  local wanted
  wanted=$(sed -n 's/.*"axe-core": "\(.*\)".*/\1/p' "$ROOT/tests/axe/package.json")
  if [ -f "$installed" ] && grep -q "\"version\": \"$wanted\"" "$installed"; then
    step "axe-core $wanted: present"
    return
  fi
  step "axe-core $wanted: installing into tests/axe (npm ci)"
  npm ci --prefix "$ROOT/tests/axe" --ignore-scripts --no-audit --no-fund
}

ensure_cargo_deny() {
  if have cargo-deny && cargo-deny --version | grep -q "$CARGO_DENY_VERSION"; then
    step "cargo-deny $CARGO_DENY_VERSION: present"
    return
  fi
  step "cargo-deny $CARGO_DENY_VERSION: installing into .tools (cargo install --locked, about 2 minutes)"
  tool_build cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --root "$TOOLS"
}

# wasm-split-cli cuts the app into its lazily loaded parts (client/src/lazy.rs), between cargo
# and wasm-bindgen; the same crate's split points are in leptos's own dependencies.
ensure_wasm_split() {
  if have wasm-split-cli && [ -f "$TOOLS/.wasm-split-$WASM_SPLIT_VERSION" ]; then
    step "wasm-split-cli $WASM_SPLIT_VERSION: present"
    return
  fi
  step "wasm-split-cli $WASM_SPLIT_VERSION: installing into .tools (cargo install --locked, about 1 minute)"
  tool_build cargo install wasm_split_cli_support --version "$WASM_SPLIT_VERSION" \
    --features build-binary --locked --root "$TOOLS"
  touch "$TOOLS/.wasm-split-$WASM_SPLIT_VERSION"
}

ensure_build_tools() {
  ensure_rust
  step "Fetching crates (Cargo.lock, --locked)"
  cargo fetch --locked
  ensure_wasm_bindgen
  ensure_wasm_opt
  ensure_wasm_split
}

# Paths of this machine never reach the bundle: the same commit builds the same bytes wherever it
# is checked out (`check_reproducible_client`). RUSTFLAGS with cargo's --target applies to the
# wasm crates only, not to build scripts.
# `--cfg erase_components` makes Leptos type-erase every component's view: the bundle shrank
# from 1.88 to 1.61 MB (733 to 633 KB gzip) for no change a user sees.
client_rustflags() {
  printf -- '--remap-path-prefix=%s=/cargo --remap-path-prefix=%s=/sealpost --cfg erase_components --cfg sealpost_split' \
    "${CARGO_HOME:-$HOME/.cargo}" "$1"
}

build_client() {
  step "Building the client (.ci/build-client: release, wasm-bindgen, wasm-opt -Oz) into target/dist"
  RUSTFLAGS="$(client_rustflags "$ROOT")" python3 "$ROOT/.ci/build-client" --root "$ROOT" \
    --target-dir "$ROOT/target"
}

# Builds the client a second time from a copy of the checkout in another folder, with its own
# target folder (every wasm crate compiled again), and compares the digest with target/dist's:
# a firm that builds a release itself gets the bytes its relay should serve (SECURITY.md).
check_reproducible_client() {
  step "the client again from a copy elsewhere: the same bytes (reproducible build)"
  local copy first second
  copy=$(mktemp -d /tmp/sealpost-repro.XXXXXX)
  # Every file of the checkout but the fuzzing corpora (their own workspaces, not in the bundle).
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard -- . ':(exclude)*/fuzz/**' |
    xargs -0 cp --parents -t "$copy")
  (cd "$copy" && RUSTFLAGS="$(client_rustflags "$copy")" \
    python3 "$copy/.ci/build-client" --root "$copy" --target-dir "$copy/target" >/dev/null)
  first=$(python3 "$ROOT/.ci/client-digest" --dist "$ROOT/target/dist")
  second=$(python3 "$ROOT/.ci/client-digest" --dist "$copy/target/dist")
  if [ "$first" != "$second" ]; then
    echo "error: the client is not reproducible: $first here, $second from $copy" >&2
    (cd "$ROOT/target/dist" && find . -type f -exec sha256sum {} + | sort -k2) >"$copy/first.txt"
    (cd "$copy/target/dist" && find . -type f -exec sha256sum {} + | sort -k2) >"$copy/second.txt"
    diff "$copy/first.txt" "$copy/second.txt" >&2 || true
    exit 1
  fi
  echo "client digest: $first (the same from $copy)"
  rm -rf "$copy"
}

# Starts the relay binary of the test build on a free port and checks what it serves with
# `.ci/client-digest` against target/dist's digest.
check_served_client() {
  local data port pid expected
  data=$(mktemp -d /tmp/sealpost-served.XXXXXX)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$RELAY_BIN" --listen "127.0.0.1:$port" --data-dir "$data" >"$data/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/api/health', timeout=1)" \
      2>/dev/null && break
    sleep 0.1
  done
  expected=$(python3 "$ROOT/.ci/client-digest" --dist "$ROOT/target/dist")
  if ! python3 "$ROOT/.ci/client-digest" "http://127.0.0.1:$port" "$expected"; then
    kill "$pid"; cat "$data/log" >&2; exit 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

# The OpenAPI validator (openapi-spec-validator from PyPI) in its own virtual environment under
# .tools, every package pinned.
ensure_openapi_validator() {
  local venv="$TOOLS/openapi" stamp
  stamp=$(sha256sum "$ROOT/.ci/openapi-requirements.txt" | cut -c1-16)
  if [ -x "$venv/bin/openapi-spec-validator" ] && [ -f "$venv/.installed-$stamp" ]; then
    step "openapi-spec-validator: present"
    return
  fi
  step "openapi-spec-validator: installing from PyPI into .tools/openapi (about 10 s)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/.ci/openapi-requirements.txt"
  touch "$venv/.installed-$stamp"
}

# An S3-compatible server for the bucket tests (relay chunks on object storage): moto's server
# mode from PyPI, in its own virtual environment under .tools, every package pinned.
ensure_s3_server() {
  local venv="$TOOLS/moto" stamp
  stamp=$(sha256sum "$ROOT/.ci/s3-requirements.txt" | cut -c1-16)
  if [ -x "$venv/bin/moto_server" ] && [ -f "$venv/.installed-$stamp" ]; then
    step "moto (S3-compatible test server): present"
    return
  fi
  step "moto (S3-compatible test server): installing from PyPI into .tools/moto (about 15 s)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/.ci/s3-requirements.txt"
  touch "$venv/.installed-$stamp"
}

# Starts the S3 server on a free loopback port, creates the tests' bucket, and exports its
# address as TEST_S3_ENDPOINT (the tests give each relay its own prefix in that bucket). The
# caller stops it: `stop_s3_server`.
start_s3_server() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$ROOT/target"
  "$TOOLS/moto/bin/moto_server" -H 127.0.0.1 -p "$port" >"$ROOT/target/s3-server.log" 2>&1 &
  S3_SERVER_PID=$!
  export TEST_S3_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if python3 -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], method="PUT"), timeout=5)' \
      "$TEST_S3_ENDPOINT/sealpost-tests" 2>/dev/null; then
      step "S3 server (moto) on $TEST_S3_ENDPOINT, bucket sealpost-tests"
      return
    fi
    sleep 0.2
  done
  cat "$ROOT/target/s3-server.log" >&2
  echo "error: the S3 server did not start" >&2
  exit 1
}

stop_s3_server() {
  if [ -n "${S3_SERVER_PID:-}" ]; then
    kill "$S3_SERVER_PID" 2>/dev/null || true
    wait "$S3_SERVER_PID" 2>/dev/null || true
    S3_SERVER_PID=
  fi
}

#!/usr/bin/env bash
# The Linux package, tested as a clinic's IT would meet it: builds the .deb
# (no test knobs), installs it with apt into a clean Debian root made by
# debootstrap, launches the installed app under Xvfb with a real
# gnome-keyring and drives it through tauri-driver (tests/app/installed.rs):
# create a vault; refuse an update signed by another key; install an update
# signed with the update key and restart at the new version. Then purges the
# package and checks nothing it installed is left.
#
# The package is built from the release profile, not `dist` (fat LTO takes
# most of CI's time budget on two cores); its contents are the same files.
# The update key is a throwaway one made here; the feed is served over
# HTTPS from this machine with a throwaway CA that the root trusts, through
# IT's policy file (/etc/chartsafe/policy.json, docs/UPDATES.md).
#
# Needs root (debootstrap, chroot, mounts). Prints the figures for the
# issue's closing note (| lines).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
[ "$(id -u)" = 0 ] || { echo "test-deb.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
bash scripts/deps.sh test dist
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TAURI_CLI=@tauri-apps/cli@2.12.6
work=$ROOT_DIR/target/deb-test
root=$work/root
port=$((24000 + $$ % 1000 * 4))
feed_port=$((port + 2))
display=$((300 + $$ % 200))
mirror=${DEB_TEST_MIRROR:-http://deb.debian.org/debian}
pkg=chart-safe

say() { echo "test-deb.sh: $*" >&2; }
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

pids=()
unmount_all() {
    for m in sys dev/pts dev proc; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
    done
}
# Kills the processes running inside the root (all, or those whose command
# line matches the extended regex $1).
kill_in_root() {
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] || continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -Eq "${1:-.}" && kill -9 "${p#/proc/}" 2>/dev/null || true
    done
}
cleanup() {
    for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
    # Anything still running inside the root (the restarted app, D-Bus).
    kill_in_root
    unmount_all
}
trap cleanup EXIT

unmount_all
# DEB_TEST_REUSE=1 keeps the packages and keys of the last run (while
# working on this script); the root is always made afresh.
if [ "${DEB_TEST_REUSE:-}" = 1 ] && [ -s "$work/feed/ChartSafe_0.1.1_amd64.deb" ]; then
    reuse=1
    rm -rf "$root"
else
    reuse=0
    rm -rf "$work"
fi
mkdir -p "$work/feed"

if [ "$reuse" = 0 ]; then
# --- Keys and certificates (throwaway) ---------------------------------------
npx --yes "$TAURI_CLI" signer generate --ci -f -w "$work/update.key" -p "" >/dev/null
npx --yes "$TAURI_CLI" signer generate --ci -f -w "$work/attacker.key" -p "" >/dev/null
pub=$(cat "$work/update.key.pub")
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ChartSafe test CA" \
    -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$work/feed.key" -out "$work/feed.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/feed.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
    -days 2 -extfile "$work/san.ext" -out "$work/feed.crt" 2>/dev/null

# --- Version N and N+1, signed with the test update key ----------------------
build_deb() { # version
    DIST_PROFILE=release \
    DIST_CONFIG="{\"version\":\"$1\",\"plugins\":{\"updater\":{\"pubkey\":\"$pub\"}}}" \
    TAURI_SIGNING_PRIVATE_KEY="$(cat "$work/update.key")" TAURI_SIGNING_PRIVATE_KEY_PASSWORD="" \
        bash scripts/dist.sh deb >"$work/build-$1.log" 2>&1 \
        || { cat "$work/build-$1.log" >&2; exit 1; }
    cp "target/release/bundle/deb/ChartSafe_$1_amd64.deb" "$work/feed/"
    cp "target/release/bundle/deb/ChartSafe_$1_amd64.deb.sig" "$work/feed/"
}
t=$(date +%s)
build_deb 0.1.1
build_deb 0.1.0
say "built two .deb packages in $(( $(date +%s) - t )) s"
deb=$work/feed/ChartSafe_0.1.0_amd64.deb
next=$work/feed/ChartSafe_0.1.1_amd64.deb
fi
deb=$work/feed/ChartSafe_0.1.0_amd64.deb
next=$work/feed/ChartSafe_0.1.1_amd64.deb
# Signatures bound to the version they announce (the app requires that:
# requireSignedVersion), as the release workflow signs them; `tauri build`
# 2.12 writes none there.
sign() { # key-file signature-file
    (cd "$work" && TAURI_SIGNING_PRIVATE_KEY="$(cat "$1")" TAURI_SIGNING_PRIVATE_KEY_PASSWORD="" \
        npx --yes "$TAURI_CLI" signer sign --app-version 0.1.1 "$next" >/dev/null 2>&1 && mv "$next.sig" "$2")
}
sign "$work/update.key" "$work/good.sig"
# The update as an attacker with the feed would sign it: another key.
sign "$work/attacker.key" "$work/attacker.sig"
cp "$work/good.sig" "$next.sig"
manifest() { # signature-file
    printf '{"version":"0.1.1","notes":"Test update","pub_date":"2026-12-07T00:00:00Z","platforms":{"linux-x86_64-deb":{"signature":"%s","url":"https://localhost:%s/ChartSafe_0.1.1_amd64.deb"}}}\n' \
        "$(cat "$1")" "$feed_port" >"$work/feed/latest.json"
}

# --- A clean Debian root -----------------------------------------------------
t=$(date +%s)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount --bind /sys "$root/sys"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# What the test needs around the app (not what the app needs: apt resolves
# that from the package): a display, a keyring, the WebDriver, sudo (the
# updater installs with it), the trust store.
in_root sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends xvfb xauth dbus dbus-x11 gnome-keyring webkit2gtk-driver sudo ca-certificates procps' \
    >"$work/root-tools.log" 2>&1 || { tail -20 "$work/root-tools.log" >&2; exit 1; }
cp "$(command -v tauri-driver)" "$root/usr/local/bin/"
mkdir -p "$root/opt/chartsafe-test"
cp scripts/with-keyring.sh "$root/opt/chartsafe-test/"
cp "$work/ca.crt" "$root/usr/local/share/ca-certificates/chartsafe-test.crt"
in_root update-ca-certificates >/dev/null 2>&1
say "clean root ready in $(( $(date +%s) - t )) s"
before=$(cd "$root" && find usr etc -xdev | sort)

# --- Install N ----------------------------------------------------------------
cp "$deb" "$root/tmp/"
t_install=$(date +%s%N)
in_root sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/$(basename "$deb")" >"$work/install.log" 2>&1 \
    || { tail -20 "$work/install.log" >&2; exit 1; }
install_ms=$(( ($(date +%s%N) - t_install) / 1000000 ))
[ "$(in_root dpkg-query -W -f='${Version}' "$pkg")" = 0.1.0 ] || { say "package $pkg 0.1.0 not installed"; exit 1; }
for f in /usr/bin/chartsafe-app /usr/bin/chartsafe /usr/share/man/man1/chartsafe.1.gz \
         /usr/share/bash-completion/completions/chartsafe /usr/share/applications/ChartSafe.desktop; do
    [ -e "$root$f" ] || { say "the package did not install $f"; exit 1; }
done
in_root chartsafe --version | grep -q '^chartsafe 0.1' || { say "chartsafe --version failed"; exit 1; }
in_root sh -c 'zcat /usr/share/man/man1/chartsafe.1.gz | head -3' | grep -q '^.TH chartsafe 1' \
    || { say "the man page is not chartsafe(1)"; exit 1; }

# --- The session inside the root: Xvfb, keyring, tauri-driver ----------------
mkdir -p "$root/etc/chartsafe"
start_session() {
    in_root env WITH_KEYRING_HOME=/root/session bash /opt/chartsafe-test/with-keyring.sh sh -c \
        "Xvfb :$display -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & sleep 1; export DISPLAY=:$display NO_AT_BRIDGE=1; exec tauri-driver --port $port --native-port $((port + 1))" \
        >"$work/session.log" 2>&1 &
    session=$!
    pids+=("$session")
}
stop_session() {
    kill "$session" 2>/dev/null || true
    kill_in_root 'tauri-driver|WebKitWebDriver|Xvfb|chartsafe-app|dbus-daemon|gnome-keyring'
    sleep 1
}
run_test() { # name
    CHARTSAFE_INSTALLED_DRIVER_PORT=$port cargo test --release --locked -p chartsafe-e2e \
        --test app "installed::$1" -- --ignored --exact --nocapture 2>&1 | tee "$work/$1.log" | grep -E '^\| |panicked|FAILED|test result' || true
    grep -q 'test result: ok. 1 passed' "$work/$1.log" || { say "$1 failed; see $work/$1.log and session.log"; exit 1; }
}

start_session
run_test installed_app_creates_a_vault
startup_ms=$(sed -n 's/^| installed app: interactive window after | \([0-9]*\) ms |$/\1/p' "$work/installed_app_creates_a_vault.log")

# --- Updates: a feed over HTTPS through IT's policy file ---------------------
python3 - "$work/feed" "$feed_port" "$work/feed.crt" "$work/feed.key" >"$work/feed.log" 2>&1 <<'PY' &
import functools, http.server, ssl, sys
root, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
pids+=("$!")
printf '{"update_endpoint": "https://localhost:%s/latest.json"}\n' "$feed_port" >"$root/etc/chartsafe/policy.json"

manifest "$work/attacker.sig"
run_test installed_app_refuses_an_update_with_a_bad_signature
[ "$(in_root dpkg-query -W -f='${Version}' "$pkg")" = 0.1.0 ] || { say "a badly signed update was installed"; exit 1; }

manifest "$work/good.sig"
old_pid_list=$(pgrep -f '^/usr/bin/chartsafe-app' || true)
run_test installed_app_installs_a_signed_update_and_restarts
ok=0
for _ in $(seq 1 120); do
    version=$(in_root dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
    new=$(pgrep -f '^/usr/bin/chartsafe-app' | grep -vxF "${old_pid_list:-none}" | head -1 || true)
    if [ "$version" = 0.1.1 ] && [ -n "$new" ] && [ "$(readlink "/proc/$new/root")" = "$root" ]; then
        ok=1
        break
    fi
    sleep 0.5
done
[ "$ok" = 1 ] || { say "after the update: package version '${version:-?}', no restarted app (see $work/session.log)"; exit 1; }
sleep 3
kill -0 "$new" 2>/dev/null || { say "the restarted app (0.1.1) exited"; exit 1; }
say "updated to 0.1.1 and restarted (pid $new)"
stop_session

# --- Purge -------------------------------------------------------------------
in_root sh -c "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $pkg" >"$work/purge.log" 2>&1 \
    || { tail -20 "$work/purge.log" >&2; exit 1; }
if in_root dpkg-query -W "$pkg" >/dev/null 2>&1 && [ "$(in_root dpkg-query -W -f='${db:Status-Abbrev}' "$pkg")" != "pn " ]; then
    say "$pkg still installed after purge"; exit 1
fi
for f in /usr/bin/chartsafe-app /usr/bin/chartsafe /usr/share/man/man1/chartsafe.1.gz; do
    [ ! -e "$root$f" ] || { say "purge left $f"; exit 1; }
done
rm -f "$root/etc/chartsafe/policy.json"; rmdir "$root/etc/chartsafe"
after=$(cd "$root" && find usr etc -xdev | sort)
left=$(comm -13 <(echo "$before") <(echo "$after") | grep -i chart || true)
[ -z "$left" ] || { say "left after purge: $left"; exit 1; }

deb_size=$(stat -c %s "$deb")
update_size=$(stat -c %s "$next")
echo "| .deb (release profile, as tested) | $deb_size bytes |"
echo "| apt-get install in the clean root | $install_ms ms |"
echo "| install to interactive window | $(( install_ms + ${startup_ms:-0} )) ms (window $startup_ms ms) |"
echo "| update download (the 0.1.1 .deb) | $update_size bytes |"
say "ok: installed, created a vault, refused a badly signed update, updated and restarted, purged cleanly"

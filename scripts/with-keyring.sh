#!/usr/bin/env bash
# Runs CMD... inside a private, real Secret Service (gnome-keyring on its own
# D-Bus session bus), with HOME and the XDG dirs in a scratch directory that is
# removed afterwards. CMD's exit status is preserved.
#
# Usage: bash scripts/with-keyring.sh CMD [ARG...]
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARG...]" >&2
    exit 2
fi

for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "with-keyring.sh: '$tool' not found (run: bash scripts/deps.sh test)" >&2
        exit 1
    fi
done

# Cargo and rustup live under the caller's HOME; keep them reachable.
orig_home="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
export CARGO_HOME="${CARGO_HOME:-$orig_home/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$orig_home/.rustup}"
case ":$PATH:" in
    *":$CARGO_HOME/bin:"*) ;;
    *) [ -d "$CARGO_HOME/bin" ] && export PATH="$CARGO_HOME/bin:$PATH" ;;
esac

# WITH_KEYRING_HOME=DIR keeps HOME, the data folders and the keyring in DIR
# across runs (the end-to-end tests give each simulated person their own HOME
# this way); only its runtime folder is made afresh and removed.
if [ -n "${WITH_KEYRING_HOME:-}" ]; then
    scratch="$WITH_KEYRING_HOME"
    keep_scratch=1
    mkdir -p "$scratch"
    rm -rf "$scratch/runtime" "$scratch/services"
else
    scratch="$(mktemp -d "${TMPDIR:-/tmp}/chartsafe-keyring.XXXXXX")"
    keep_scratch=0
fi
# Not exec'd below, so that this trap can remove the scratch dir at exit.
# GTK programs (the desktop app) get D-Bus to start the document portal,
# which mounts a FUSE file system in the runtime folder: unmount it first.
cleanup() {
    if [ -d "$scratch/runtime/doc" ]; then
        fusermount3 -u "$scratch/runtime/doc" 2>/dev/null \
            || fusermount -u "$scratch/runtime/doc" 2>/dev/null \
            || umount -l "$scratch/runtime/doc" 2>/dev/null || true
    fi
    if [ "$keep_scratch" = 1 ]; then
        rm -rf "$scratch/runtime" 2>/dev/null || true
    else
        rm -rf "$scratch" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

export HOME="$scratch/home"
export XDG_DATA_HOME="$scratch/data"
export XDG_CONFIG_HOME="$scratch/config"
export XDG_CACHE_HOME="$scratch/cache"
export XDG_RUNTIME_DIR="$scratch/runtime"
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$scratch" "$XDG_RUNTIME_DIR"
# Never talk to a caller's display or session bus.
unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK DISPLAY WAYLAND_DISPLAY

# The private bus looks for services in our own folder first. Its service file
# for the Secret Service starts gnome-keyring-daemon already unlocked, so that
# when D-Bus starts a daemon on demand (the first call, or a call right after
# the daemon died, see below) the keyring is never locked: the stock service
# file would start a locked one, whose unlock prompt cannot be shown here.
mkdir -p "$scratch/services"
cat >"$scratch/keyring-start" <<'SH'
#!/bin/sh
printf "%s" "chartsafe-test-keyring" \
    | exec gnome-keyring-daemon --unlock --foreground --components=secrets \
        2>>"$XDG_RUNTIME_DIR/keyring.log"
SH
chmod 700 "$scratch/keyring-start"
for name in org.freedesktop.secrets org.gnome.keyring; do
    printf "[D-BUS Service]\nName=%s\nExec=%s\n" "$name" "$scratch/keyring-start" \
        >"$scratch/services/$name.service"
done
cat >"$scratch/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <servicedir>$scratch/services</servicedir>
  <include>/usr/share/dbus-1/session.conf</include>
</busconfig>
XML

# shellcheck disable=SC2016  # expanded by the inner shell
inner='
set -euo pipefail
# --unlock reads the login keyring password on stdin and prints variables
# such as GNOME_KEYRING_CONTROL=...; export them.
keyring_env="$(printf "%s" "chartsafe-test-keyring" \
    | gnome-keyring-daemon --unlock --components=secrets 2>>"$XDG_RUNTIME_DIR/keyring.log")"
while IFS= read -r line; do
    case "$line" in
        [A-Za-z_]*=*) export "${line?}" ;;
    esac
done <<<"$keyring_env"

has_owner() {
    dbus-send --session --dest=org.freedesktop.DBus --type=method_call \
        --print-reply /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
        string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"
}
tries=0
until has_owner; do
    tries=$((tries + 1))
    if [ "$tries" -ge 100 ]; then
        echo "with-keyring.sh: org.freedesktop.secrets did not appear on the session bus within 10 s" >&2
        exit 1
    fi
    sleep 0.1
done

# gnome-keyring-daemon sometimes aborts when a client disconnects at the
# wrong moment (an upstream race in its Secret Service code; Debian 12 has
# 42.1). The next call then makes D-Bus start a new daemon through our service
# file above, unlocked, with the same keyring file; the keychain crate retries
# a failed call once after half a second. (An earlier watcher that replaced a
# dead daemon itself raced with that activation and killed the new daemon
# under a client.)
status=0
"$@" || status=$?
exit "$status"
'

status=0
dbus-run-session --config-file="$scratch/bus.conf" -- bash -c "$inner" with-keyring "$@" || status=$?
exit "$status"

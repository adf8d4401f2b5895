#!/usr/bin/env bash
# Scale figures (issue 13): vaults of 1k, 10k and 100k files, each written
# by 10 devices (500 folders per device at 100k: 5,000 in all) with a
# version history, then unlock, ls, the app's search, verify and adding one
# file, timed with their peak memory; rclone crypt lists the same tree for
# the ratio. Then one big file (SCALE_BIG_GIB, default 20) is added and
# read back, to show memory stays constant.
#
# Run inside scripts/with-keyring.sh (make scale does): the devices' secrets
# are in that session's keychain. SCALE_SIZES="1000 10000" picks sizes;
# SCALE_DIR (default /tmp/chartsafe-scale) needs room for the big file twice
# over (its source is sparse: SCALE_BIG_GIB in the vault, and the same read
# back is hashed on the fly, not stored).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${CHARTSAFE_BIN:-$ROOT/target/release/chartsafe}"
DIR="${SCALE_DIR:-/tmp/chartsafe-scale}"
SIZES="${SCALE_SIZES:-1000 10000 100000}"
BIG_GIB="${SCALE_BIG_GIB:-20}"
DEVICES=10
PER_FOLDER=20

log() { echo "scale.sh: $*" >&2; }
[ -x "$BIN" ] || { log "build $BIN first (make scale does)"; exit 1; }
rm -rf "$DIR"
mkdir -p "$DIR"
echo "passphrase of the scale test" > "$DIR/pass"

# CMD: the CLI as device $1 of the vault under test ($VAULT).
device() {
    CMD=(env "CHARTSAFE_KEYCHAIN_SERVICE=chartsafe-scale-$$-$1"
         "CHARTSAFE_STATE_DIR=$DIR/state-$1" "CHARTSAFE_DEVICE_NAME=desk $1"
         CHARTSAFE_KDF_LOG_N=10
         "$BIN" --passphrase-file "$DIR/pass" --vault "$VAULT")
}
cs() { local dev="$1"; shift; device "$dev"; "${CMD[@]}" "$@"; }

# measure ARGS...: "seconds peak-KiB" of one run by device 0.
measure() {
    device 0
    /usr/bin/time -o "$DIR/time" -f "%e %M" "${CMD[@]}" "$@" >/dev/null 2>"$DIR/err" \
        || { log "$* failed: $(tail -3 "$DIR/err")"; exit 1; }
    cat "$DIR/time"
}

# The source tree of device D at size N: N/10 files in folders of 20.
make_tree() {
    local n="$1" dev="$2" out="$3"
    python3 - "$n" "$dev" "$out" "$DEVICES" "$PER_FOLDER" <<'EOF'
import os, sys
n, dev, out, devices, per = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
files = n // devices
for i in range(files):
    d = os.path.join(out, f"dev{dev}", f"patient {i // per:04}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"note {i % per:02}.txt"), "wb") as f:
        f.write((f"device {dev} note {i} ").encode() * (20 + i % 60))
EOF
}

rows=()
for N in $SIZES; do
    VAULT="$DIR/vault-$N"
    src="$DIR/src-$N"
    log "vault of $N files: 10 devices writing"
    cs 0 init "$VAULT" > "$DIR/phrase-$N" 2>/dev/null
    for dev in $(seq 1 $((DEVICES - 1))); do
        cs "$dev" recover < "$DIR/phrase-$N" >/dev/null 2>&1
    done
    for dev in $(seq 0 $((DEVICES - 1))); do
        make_tree "$N" "$dev" "$src"
        cs "$dev" add "$src/dev$dev" >/dev/null 2>&1
    done
    # History: every device edits a tenth of its files (a second version).
    for dev in $(seq 0 $((DEVICES - 1))); do
        edit="$DIR/edit-$N/dev$dev"
        mkdir -p "$edit"
        # (awk reads all of ls's output: head would end it with SIGPIPE)
        ls "$src/dev$dev" | awk -v k=$(( (N / DEVICES / PER_FOLDER + 9) / 10 )) 'NR <= k' \
            | while IFS= read -r f; do
                cp -r "$src/dev$dev/$f" "$edit/"
                for g in "$edit/$f"/*; do echo "edited" >> "$g"; done
            done
        cs "$dev" add "$edit" --to "" >/dev/null 2>&1
    done
    files=$(cs 0 ls --json | grep -c '"kind":"file"')
    records=$(find "$VAULT/r" -type f | wc -l)
    vault_mib=$(du -sm "$VAULT" | cut -f1)
    log "$files files, $records records, $vault_mib MiB"

    read -r unlock_s unlock_kb < <(measure members)
    read -r ls_s ls_kb < <(measure ls --json)
    cs 0 ls --json > "$DIR/listing-$N.jsonl"
    read -r verify_s verify_kb < <(measure verify)
    echo "one more file" > "$DIR/one.txt"
    read -r add_s add_kb < <(measure add "$DIR/one.txt" --to "dev0")
    search_ms=$(node "$ROOT/scripts/scale-search.mjs" "$DIR/listing-$N.jsonl" "0003 note 07")

    # The peer: rclone crypt listing the same plaintext tree.
    export RCLONE_CONFIG="$DIR/rclone.conf"
    pass=$(rclone obscure "scale test")
    printf '[scale]\ntype = crypt\nremote = %s\npassword = %s\n' "$DIR/rclone-$N" "$pass" > "$RCLONE_CONFIG"
    rclone copy --transfers 4 "$src" scale: 2>/dev/null
    /usr/bin/time -o "$DIR/time" -f "%e %M" rclone lsf -R scale: >/dev/null
    read -r rc_s rc_kb < "$DIR/time"

    ratio=$(awk -v a="$ls_s" -v b="$rc_s" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
    mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
    rows+=("| $files | $records | $vault_mib MiB | ${unlock_s} s, $(mib "$unlock_kb") MiB | ${ls_s} s, $(mib "$ls_kb") MiB | ${search_ms} ms | ${verify_s} s, $(mib "$verify_kb") MiB | ${add_s} s, $(mib "$add_kb") MiB | ${rc_s} s, $(mib "$rc_kb") MiB | $ratio |")
    rm -rf "$src" "$DIR/edit-$N" "$DIR/rclone-$N"
done

echo "| Files | Records | Vault | Unlock | ls | Search (app) | verify | Add one file | rclone crypt lsf -R | Ratio ls (>1 = faster than rclone) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"

if [ "$BIG_GIB" -gt 0 ]; then
    VAULT="$DIR/vault-big"
    log "a $BIG_GIB GiB file"
    cs 0 init "$VAULT" >/dev/null 2>&1
    big="$DIR/big.bin"
    # Sparse, with 1 MiB of random data every 256 MiB: the zeros cost no
    # disk, and the content is not all one byte.
    truncate -s "${BIG_GIB}G" "$big"
    for off in $(seq 0 256 $((BIG_GIB * 1024 - 1))); do
        head -c 1048576 /dev/urandom | dd of="$big" bs=1M seek="$off" conv=notrunc status=none
    done
    want=$(sha256sum "$big" | cut -d' ' -f1)
    read -r badd_s badd_kb < <(measure add "$big")
    start=$(date +%s.%N)
    device 0
    got=$(/usr/bin/time -f "%M" -o "$DIR/get-rss" "${CMD[@]}" get big.bin 2>/dev/null \
        | sha256sum | cut -d' ' -f1)
    bget_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    bget_kb=$(cat "$DIR/get-rss")
    [ "$got" = "$want" ] || { log "the $BIG_GIB GiB file read back differs"; exit 1; }
    echo
    echo "| Big file | Add | Read back (piped to sha256sum) | Same bytes |"
    echo "| --- | ---: | ---: | --- |"
    echo "| $BIG_GIB GiB | ${badd_s} s, $((badd_kb / 1024)) MiB peak | ${bget_s} s, $((bget_kb / 1024)) MiB peak | yes |"
    rm -f "$big"
fi
rm -rf "$DIR"

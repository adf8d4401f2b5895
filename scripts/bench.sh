#!/usr/bin/env bash
# Benchmarks ChartSafe against peers measured in the same run and prints one
# markdown table (plus one line describing the machine) on stdout. Progress
# goes to stderr.
#
# Every measured command runs BENCH_RUNS times (default 5) under
# `/usr/bin/time -f '%e %M %P'`, in rounds that run each tool of a workload
# once, each round starting with another tool; the table shows the median elapsed time, the range (best to worst),
# the median CPU utilisation (100% = one core busy, 200% = both cores of a
# 2-core machine) and the largest peak RSS. Before each run the previous
# output is removed and `sync` is called, so every run does the same work
# from the same state.
#
# Environment:
#   CHARTSAFE          binary to measure (default target/release/chartsafe)
#   BENCH_DIR          where the scratch dir goes (default /var/tmp)
#   BENCH_BIG_MIB      size of the big file in MiB (default 1024)
#   BENCH_SMALL_COUNT  number of 20 KiB files for the small-files row (default 5000)
#   BENCH_LIST_COUNT   number of 1 KiB files in the listing vault (default 10000)
#   BENCH_RUNS         runs per measurement (default 5)
#   BENCH_PEERS_ONLY   1 = skip the ChartSafe rows (checks the peers alone)
set -euo pipefail

CHARTSAFE=${CHARTSAFE:-target/release/chartsafe}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
BIG_MIB=${BENCH_BIG_MIB:-1024}
SMALL_COUNT=${BENCH_SMALL_COUNT:-5000}
LIST_COUNT=${BENCH_LIST_COUNT:-10000}
RUNS=${BENCH_RUNS:-5}
PEERS_ONLY=${BENCH_PEERS_ONLY:-0}
SMALL_SIZE=20480
LIST_SIZE=1024
LIST_TARGET_S=0.5

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for n in "$BIG_MIB" "$SMALL_COUNT" "$LIST_COUNT" "$RUNS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "sizes and counts must be positive integers (got '$n')"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (run: bash scripts/deps.sh bench)"
for tool in age age-keygen rclone; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing (run: bash scripts/deps.sh bench)"
done
# rage is cargo-installed; look where cargo puts it too.
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
HAVE_RAGE=0
if command -v rage >/dev/null 2>&1; then
    HAVE_RAGE=1
else
    log "rage is not installed; its rows show n/a (make bench installs it)"
fi

if [ "$PEERS_ONLY" = 1 ]; then
    log "BENCH_PEERS_ONLY=1: skipping the ChartSafe rows"
else
    case "$CHARTSAFE" in
        */*) if [ ! -f "$CHARTSAFE" ] || [ ! -x "$CHARTSAFE" ]; then
                 die "ChartSafe binary not found at $CHARTSAFE (run: make build)"
             fi
             CHARTSAFE="$(cd "$(dirname "$CHARTSAFE")" && pwd)/$(basename "$CHARTSAFE")" ;;
        *) CHARTSAFE=$(command -v "$CHARTSAFE") || die "ChartSafe binary '$CHARTSAFE' not on PATH" ;;
    esac
fi

mkdir -p "$BENCH_DIR"
W=$(mktemp -d "$BENCH_DIR/chartsafe-bench.XXXX")
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log "scratch dir: $W"

# Rough space check: big file, a vault copy, age and rage outputs, a plain
# copy and a decrypted output can exist at the same time.
need_kib=$(( (BIG_MIB * 6 + (SMALL_COUNT * SMALL_SIZE * 4 + LIST_COUNT * LIST_SIZE * 3) / 1048576 + 64) * 1024 ))
avail_kib=$(df -Pk "$W" | awk 'NR == 2 { print $4 }')
if [ "${avail_kib:-0}" -lt "$need_kib" ]; then
    die "need about $((need_kib / 1024)) MiB free in $BENCH_DIR, have $((avail_kib / 1024)) MiB"
fi

# Results, by key: median and best seconds, peak RSS KiB, and raw samples.
declare -A TIME=() BEST=() WORST=() RSS=() SAMPLES=() CPU=() CPUS=()

# run_once KEY PREP CMD...: runs PREP (untimed), sync, then CMD once under
# /usr/bin/time, and records the sample. Workloads call it in rounds, one run
# of every tool per round, so that the machine's drift (page cache, write-back
# of the previous run) falls on every tool alike.
run_once() {
    local key=$1 prep=$2
    shift 2
    local t m p
    "$prep"
    sync
    if ! /usr/bin/time -f '%e %M %P' -o "$W/time.out" "$@" >"$W/cmd.log" 2>&1; then
        log "'$key' failed: $*"
        tail -n 20 "$W/cmd.log" "$W/time.out" >&2 || true
        exit 1
    fi
    read -r t m p < <(tail -n 1 "$W/time.out")
    SAMPLES[$key]+="$t "
    CPUS[$key]+="${p%\%} "
    if [ "$m" -gt "${RSS[$key]:-0}" ]; then RSS[$key]=$m; fi
    log "  $key: ${t} s, $((m / 1024)) MiB, CPU ${p}"
}

# finish KEY...: median and best of each key's samples.
finish() {
    local key sorted count
    for key in "$@"; do
        [ -n "${SAMPLES[$key]:-}" ] || continue
        sorted=$(tr ' ' '\n' <<<"${SAMPLES[$key]}" | grep . | sort -g)
        count=$(wc -l <<<"$sorted")
        TIME[$key]=$(sed -n "$(((count + 1) / 2))p" <<<"$sorted")
        BEST[$key]=$(head -n 1 <<<"$sorted")
        WORST[$key]=$(tail -n 1 <<<"$sorted")
        sorted=$(tr ' ' '\n' <<<"${CPUS[$key]}" | grep . | sort -g)
        CPU[$key]=$(sed -n "$(((count + 1) / 2))p" <<<"$sorted")
    done
}

# measure KEY PREP CMD...: RUNS runs of one command (workloads without peers).
measure() {
    local i
    for ((i = 1; i <= RUNS; i++)); do run_once "$@"; done
    finish "$1"
}

nothing() { :; }

# rounds STEP...: RUNS rounds that each run every STEP (a function) once.
# Round r starts at the r-th step and wraps around, so that no tool always
# runs first: on this kind of machine the first large write after a large
# file was freed is sometimes several times slower (seen with plain dd:
# 4.1 s, then 0.45 s), and a fixed order would give that to one tool.
rounds() {
    # Names of their own: bash's locals are seen (and set) by the steps.
    local _round _k _n=$#
    local _steps=("$@")
    for ((_round = 1; _round <= RUNS; _round++)); do
        log "  round $_round/$RUNS"
        for ((_k = 0; _k < _n; _k++)); do
            "${_steps[$(((_k + _round - 1) % _n))]}"
        done
    done
}

# ---------------------------------------------------------------- test data
log "generating ${BIG_MIB} MiB big file"
head -c $((BIG_MIB * 1048576)) /dev/urandom >"$W/big"
log "generating $SMALL_COUNT files of $((SMALL_SIZE / 1024)) KiB"
mkdir "$W/small"
head -c $((SMALL_COUNT * SMALL_SIZE)) /dev/urandom \
    | split -b "$SMALL_SIZE" -a 7 -d --additional-suffix=.bin - "$W/small/f"
if [ "$PEERS_ONLY" != 1 ]; then
    log "generating $LIST_COUNT files of $((LIST_SIZE / 1024)) KiB"
    mkdir "$W/list"
    head -c $((LIST_COUNT * LIST_SIZE)) /dev/urandom \
        | split -b "$LIST_SIZE" -a 7 -d --additional-suffix=.bin - "$W/list/f"
fi

# Stock age/rage key (not ChartSafe's).
age-keygen -o "$W/age-id.txt" 2>/dev/null
RECIPIENT=$(age-keygen -y "$W/age-id.txt")

# rclone: a local remote at a folder, and a crypt remote wrapping it.
mkdir -p "$W/rclone-dst"
RCLONE_CONF="$W/rclone.conf"
cat >"$RCLONE_CONF" <<EOF
[local]
type = local

[crypt]
type = crypt
remote = local:$W/rclone-dst
password = $(rclone obscure chartsafe-bench-password)
EOF

# ChartSafe: one vault at a time, at $W/vault, unlocked by $W/vault.id.
printf '%s\n' 'chartsafe bench passphrase' >"$W/passphrase"
export CHARTSAFE_STATE_DIR="$W/state"
VAULT="$W/vault"
VAULT_ID="$W/vault.id"
new_vault() {
    rm -rf "$VAULT" "$VAULT_ID" "$CHARTSAFE_STATE_DIR"
    mkdir -p "$CHARTSAFE_STATE_DIR"
    if ! CHARTSAFE_KDF_LOG_N=10 "$CHARTSAFE" init "$VAULT" --passphrase-file "$W/passphrase" \
        >"$W/init.out" 2>"$W/init.err"; then
        cat "$W/init.err" >&2
        die "chartsafe init failed"
    fi
    # The 24-word phrase: a line of 24 lowercase words if there is one,
    # else everything init printed.
    local phrase
    phrase=$(grep -E -m 1 '^[[:space:]]*([a-z]+[[:space:]]+){23}[a-z]+[[:space:]]*$' "$W/init.out" \
        || cat "$W/init.out")
    if ! printf '%s\n' "$phrase" | "$CHARTSAFE" --vault "$VAULT" recovery identity \
        >"$W/identity.out" 2>"$W/identity.err"; then
        cat "$W/identity.err" >&2
        die "chartsafe recovery identity failed"
    fi
    grep -E -m 1 -o 'AGE-SECRET-KEY-1[0-9A-Z]+' "$W/identity.out" >"$VAULT_ID" \
        || die "chartsafe recovery identity printed no AGE-SECRET-KEY-1 line"
}
# Unlocked as staff do: keychain and passphrase (scrypt 2^10 here; the
# default cost is measured on its own in e). An identity-file session may
# not change a vault with a team log.
CS=("$CHARTSAFE" --vault "$VAULT" --passphrase-file "$W/passphrase")

# ------------------------------------------------------- a) big file, add
log "a) add ${BIG_MIB} MiB file"
rm_age_out() { rm -f "$W/big.age"; }
rm_rage_out() { rm -f "$W/big.rage"; }
rm_copy() { rm -f "$W/copy"; }
a_cs() { [ "$PEERS_ONLY" = 1 ] || run_once cs_add new_vault "${CS[@]}" add "$W/big"; }
a_age() { run_once age_add rm_age_out age -r "$RECIPIENT" -o "$W/big.age" "$W/big"; }
# ChartSafe makes each batch durable before recording it; age does not.
# shellcheck disable=SC2016  # expanded by the inner shell
a_age_sync() {
    run_once age_sync_add rm_age_out bash -c 'age -r "$1" -o "$2" "$3" && sync' age-sync \
        "$RECIPIENT" "$W/big.age" "$W/big"
}
a_rage() { [ "$HAVE_RAGE" = 0 ] || run_once rage_add rm_rage_out rage -r "$RECIPIENT" -o "$W/big.rage" "$W/big"; }
a_cp() { run_once cp_add rm_copy cp "$W/big" "$W/copy"; }
rounds a_cs a_age a_age_sync a_rage a_cp
finish cs_add age_add age_sync_add rage_add cp_add
rm_copy
rm -f "$W/big.rage"

# ------------------------------------------------------- b) big file, get
log "b) get ${BIG_MIB} MiB file"
rm_out() { rm -f "$W/out"; }
age -r "$RECIPIENT" -o "$W/big.age" "$W/big"
if [ "$HAVE_RAGE" = 1 ]; then rage -r "$RECIPIENT" -o "$W/big.rage" "$W/big"; fi
if [ "$PEERS_ONLY" != 1 ]; then
    log "  preparing a vault holding the big file (not timed)"
    new_vault
    "${CS[@]}" add "$W/big" >"$W/cmd.log" 2>&1 || { cat "$W/cmd.log" >&2; die "chartsafe add failed"; }
fi
b_cs_get() {
    [ "$PEERS_ONLY" != 1 ] || return 0
    run_once cs_get rm_out "${CS[@]}" get /big -o "$W/out"
    cmp -s "$W/big" "$W/out" || die "chartsafe get: output differs from the input"
}
b_age_get() {
    run_once age_get rm_out age -d -i "$W/age-id.txt" -o "$W/out" "$W/big.age"
    cmp -s "$W/big" "$W/out" || die "age -d: output differs from the input"
}
# The health check decrypts every content file into a hash only: its
# peer is plain decryption of the same data that writes nothing.
b_cs_verify() { [ "$PEERS_ONLY" = 1 ] || run_once cs_verify nothing "${CS[@]}" verify; }
b_age_null() { run_once age_null nothing age -d -i "$W/age-id.txt" -o /dev/null "$W/big.age"; }
# Key rotation: a new key, then every file re-encrypted to it (what
# follows a removal); its peer is adding the same data.
b_cs_rotate() { [ "$PEERS_ONLY" = 1 ] || run_once cs_rotate nothing "${CS[@]}" rotate; }
b_rage_get() {
    [ "$HAVE_RAGE" = 1 ] || return 0
    run_once rage_get rm_out rage -d -i "$W/age-id.txt" -o "$W/out" "$W/big.rage"
    cmp -s "$W/big" "$W/out" || die "rage -d: output differs from the input"
}
rounds b_cs_get b_age_get b_cs_verify b_age_null b_cs_rotate b_rage_get
finish cs_get age_get rage_get cs_verify age_null cs_rotate
if [ "$PEERS_ONLY" != 1 ]; then
    "${CS[@]}" get /big -o "$W/out" 2>"$W/cmd.log" || { cat "$W/cmd.log" >&2; die "chartsafe get after rotate failed"; }
    cmp -s "$W/big" "$W/out" || die "chartsafe get after rotate: output differs from the input"
fi
rm -rf "$VAULT"
rm -f "$W/big.age" "$W/big.rage"
rm_out
rm -f "$W/big"

# ------------------------------------------------- c) many small files, add
log "c) add $SMALL_COUNT small files"
reset_rclone_dst() { rm -rf "$W/rclone-dst"; mkdir "$W/rclone-dst"; }
reset_age_dst() { rm -rf "$W/age-dst"; mkdir "$W/age-dst"; }
reset_export_dst() { rm -rf "$W/export-dst"; mkdir "$W/export-dst"; }
# Each tool's steps depend on each other (a vault, then its rotation and
# export; rclone's copy, then the copy back), so they run together.
c_cs() {
    [ "$PEERS_ONLY" != 1 ] || return 0
    run_once cs_small new_vault "${CS[@]}" add "$W/small"
    run_once cs_small_rotate nothing "${CS[@]}" rotate
    run_once cs_small_export reset_export_dst "${CS[@]}" export /small --to "$W/export-dst"
    n=$(find "$W/export-dst" -type f | wc -l)
    [ "$n" -eq "$SMALL_COUNT" ] || die "chartsafe export wrote $n files, expected $SMALL_COUNT"
}
c_rclone() {
    run_once rclone_small reset_rclone_dst rclone --config "$RCLONE_CONF" copy "$W/small" crypt:
    n=$(find "$W/rclone-dst" -type f | wc -l)
    [ "$n" -eq "$SMALL_COUNT" ] || die "rclone wrote $n files, expected $SMALL_COUNT"
    run_once rclone_small_get reset_export_dst rclone --config "$RCLONE_CONF" copy crypt: "$W/export-dst"
    n=$(find "$W/export-dst" -type f | wc -l)
    [ "$n" -eq "$SMALL_COUNT" ] || die "rclone copy from crypt wrote $n files, expected $SMALL_COUNT"
}
# One process per file is slow: one run is enough to show it.
c_age() {
    [ -z "${SAMPLES[age_small]:-}" ] || return 0
    # shellcheck disable=SC2016  # expanded by the inner shell
    run_once age_small reset_age_dst bash -c \
        'for f in "$1"/*; do age -r "$2" -o "$3/${f##*/}.age" "$f" || exit 1; done' \
        age-loop "$W/small" "$RECIPIENT" "$W/age-dst"
}
rounds c_cs c_rclone c_age
finish cs_small rclone_small age_small cs_small_rotate cs_small_export rclone_small_get
rm -rf "$VAULT" "$W/rclone-dst" "$W/age-dst" "$W/export-dst" "$W/small"

# ------------------------------------------------------------- d) listing
if [ "$PEERS_ONLY" != 1 ]; then
    log "d) ls of a vault holding $LIST_COUNT entries"
    log "  preparing the vault (not timed)"
    new_vault
    "${CS[@]}" add "$W/list" >"$W/cmd.log" 2>&1 || { cat "$W/cmd.log" >&2; die "chartsafe add failed"; }
    "${CS[@]}" ls /list >"$W/ls.out" 2>"$W/cmd.log" || { cat "$W/cmd.log" >&2; die "chartsafe ls /list failed"; }
    n=$(grep -c . "$W/ls.out" || true)
    [ "$n" -ge "$LIST_COUNT" ] || log "  warning: chartsafe ls /list printed $n lines, expected $LIST_COUNT"
    measure cs_ls nothing "${CS[@]}" ls /list

    log "e) unlock with the keychain and the passphrase (default scrypt cost)"
    rm -rf "$W/kdf-vault" "$W/kdf-state"
    CHARTSAFE_STATE_DIR="$W/kdf-state" "$CHARTSAFE" init "$W/kdf-vault" --passphrase-file "$W/passphrase" \
        >/dev/null 2>"$W/cmd.log" || { cat "$W/cmd.log" >&2; die "chartsafe init (default KDF) failed"; }
    measure cs_unlock nothing env CHARTSAFE_STATE_DIR="$W/kdf-state" \
        "$CHARTSAFE" --vault "$W/kdf-vault" --passphrase-file "$W/passphrase" ls
fi

# ----------------------------------------------------------------- table
# fmt_row WORKLOAD TOOL KEY MIB|"" FILES|"" REF_KEY|"" REF_NAME
fmt_row() {
    local workload=$1 tool=$2 key=$3 mib=$4 files=$5 ref=$6 ref_name=$7
    if [ -z "${TIME[$key]+set}" ]; then
        printf '| %s | %s | n/a | n/a | n/a | n/a | n/a | n/a |\n' "$workload" "$tool"
        return
    fi
    local t=${TIME[$key]} best=${BEST[$key]} worst=${WORST[$key]} cpu=${CPU[$key]} rss=${RSS[$key]} tput ratio
    tput=$(awk -v t="$t" -v mib="$mib" -v files="$files" 'BEGIN {
        if (t < 0.005) t = 0.005
        if (mib != "") printf "%.0f MiB/s", mib / t
        else if (files != "") printf "%.0f files/s", files / t
        else printf "-"
    }')
    if [ -n "$ref" ] && [ -n "${TIME[$ref]+set}" ]; then
        if [ "$ref" = "$key" ]; then
            ratio="1.00× (reference)"
        else
            ratio=$(awk -v r="${TIME[$ref]}" -v t="$t" -v rb="${BEST[$ref]}" -v tb="$best" -v n="$ref_name" 'BEGIN {
                if (t < 0.005) t = 0.005
                if (tb < 0.005) tb = 0.005
                printf "%.2f× %s (best: %.2f×)", r / t, n, rb / tb
            }')
        fi
    elif [ -n "$ref" ]; then
        ratio="n/a"
    elif [ "$key" != cs_ls ]; then
        ratio="-"
    else
        ratio=$(awk -v t="$t" -v target="$LIST_TARGET_S" 'BEGIN {
            printf "target < %s s: %s", target, (t < target ? "met" : "MISSED")
        }')
    fi
    printf '| %s | %s | %s | %s–%s | %s | %s%% | %.1f | %s |\n' \
        "$workload" "$tool" "$t" "$best" "$worst" "$tput" "$cpu" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$ratio"
}

big="add ${BIG_MIB} MiB file"
get="get ${BIG_MIB} MiB file"
small="add $SMALL_COUNT × $((SMALL_SIZE / 1024)) KiB files"
small_mib=$(awk -v n="$SMALL_COUNT" -v s="$SMALL_SIZE" 'BEGIN { print n * s / 1048576 }')
cpu=$(grep -m 1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
[ -n "$cpu" ] || cpu=$(lscpu 2>/dev/null | awk -F: '/Model name/ { sub(/^ +/, "", $2); print $2; exit }' || true)
fs=$(df -PT "$BENCH_DIR" | awk 'NR == 2 { print $2 }')

log "done"
{
    echo "| Workload | Tool | Median time (s) | Range (s) | Throughput (median) | CPU (median) | Peak RSS (MiB) | Ratio of medians (>1 = faster than reference) |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
    if [ "$PEERS_ONLY" != 1 ]; then
        fmt_row "$big" "chartsafe add" cs_add "$BIG_MIB" "" age_add "vs age"
    fi
    fmt_row "$big" "age -r" age_add "$BIG_MIB" "" age_add "vs age"
    fmt_row "$big" "age -r, then sync (durable, as ChartSafe)" age_sync_add "$BIG_MIB" "" age_add "vs age"
    fmt_row "$big" "rage -r" rage_add "$BIG_MIB" "" age_add "vs age"
    fmt_row "$big" "cp (no encryption)" cp_add "$BIG_MIB" "" age_add "vs age"
    if [ "$PEERS_ONLY" != 1 ]; then
        fmt_row "$get" "chartsafe get" cs_get "$BIG_MIB" "" age_get "vs age"
    fi
    fmt_row "$get" "age -d" age_get "$BIG_MIB" "" age_get "vs age"
    fmt_row "$get" "rage -d" rage_get "$BIG_MIB" "" age_get "vs age"
    vfy="verify a vault of one ${BIG_MIB} MiB file"
    if [ "$PEERS_ONLY" != 1 ]; then
        fmt_row "$vfy" "chartsafe verify" cs_verify "$BIG_MIB" "" age_null "vs age -d to /dev/null"
    fi
    fmt_row "$vfy" "age -d -o /dev/null (plain decryption)" age_null "$BIG_MIB" "" age_null "vs age -d to /dev/null"
    if [ "$PEERS_ONLY" != 1 ]; then
        rot="re-encrypt a vault of one ${BIG_MIB} MiB file to a new key"
        fmt_row "$rot" "chartsafe rotate" cs_rotate "$BIG_MIB" "" cs_add "vs chartsafe add of the same file"
        fmt_row "$rot" "chartsafe add (same file, from a)" cs_add "$BIG_MIB" "" cs_add "vs chartsafe add of the same file"
    fi
    if [ "$PEERS_ONLY" != 1 ]; then
        fmt_row "$small" "chartsafe add" cs_small "" "$SMALL_COUNT" rclone_small "vs rclone crypt"
    fi
    fmt_row "$small" "rclone copy to crypt" rclone_small "" "$SMALL_COUNT" rclone_small "vs rclone crypt"
    fmt_row "$small" "age, one process per file" age_small "" "$SMALL_COUNT" rclone_small "vs rclone crypt"
    sexp="export $SMALL_COUNT × $((SMALL_SIZE / 1024)) KiB files to a folder"
    if [ "$PEERS_ONLY" != 1 ]; then
        fmt_row "$sexp" "chartsafe export" cs_small_export "" "$SMALL_COUNT" rclone_small_get "vs rclone crypt"
    fi
    fmt_row "$sexp" "rclone copy from crypt" rclone_small_get "" "$SMALL_COUNT" rclone_small_get "vs rclone crypt"
    if [ "$PEERS_ONLY" != 1 ]; then
        srot="re-encrypt a vault of $SMALL_COUNT × $((SMALL_SIZE / 1024)) KiB files to a new key"
        fmt_row "$srot" "chartsafe rotate" cs_small_rotate "" "$SMALL_COUNT" cs_small "vs chartsafe add of the same files"
        fmt_row "$srot" "chartsafe add (same files, from c)" cs_small "" "$SMALL_COUNT" cs_small "vs chartsafe add of the same files"
    fi
    if [ "$PEERS_ONLY" != 1 ]; then
        fmt_row "ls of $LIST_COUNT entries" "chartsafe ls" cs_ls "" "" "" ""
        fmt_row "unlock: keychain + passphrase (scrypt 2^17)" "chartsafe ls (empty vault)" cs_unlock "" "" "" ""
    fi
    printf '\nMachine: %s cores, %s; BENCH_DIR %s on %s; %s runs each interleaved, one run of each tool per round, each round starting with another tool (median time, range best–worst, median CPU utilisation, max RSS); small files total %.1f MiB.\n' \
        "$(nproc)" "${cpu:-unknown CPU}" "$BENCH_DIR" "${fs:-unknown fs}" "$RUNS" "$small_mib"
}

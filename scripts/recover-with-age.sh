#!/usr/bin/env bash
# recover-with-age.sh: rebuild the files of a ChartSafe vault with stock tools
# only (age, jq, sha256sum, a shell). No ChartSafe program is involved.
#
# Usage: recover-with-age.sh VAULT_DIR IDENTITY_FILE OUT_DIR
#
#   VAULT_DIR      the vault folder (the one holding chartsafe-vault.json)
#   IDENTITY_FILE  a file holding the vault's recovery identity, the
#                  AGE-SECRET-KEY-1... line printed by `chartsafe recovery identity`
#   OUT_DIR        where to write the files; must be new or empty
#
# This is the emergency procedure of docs/FORMAT.md §8. It restores every live
# file and folder at its path, checks each file's size and SHA-256 against its
# record, and gives restored files its recorded modification time. It does NOT
# check the records' MACs or signatures (that needs the MAC key, which stock
# tools cannot derive, and the team log, FORMAT.md §11), and it does not
# restore conflict copies, the trash or old versions. It reads records of
# format 1 (MAC) and 2 (signed, §5.6) alike.
#
# Exit status: 0 when every file was restored and verified; 1 when anything
# went wrong (a record that does not decrypt, a missing record or blob, a size
# or SHA-256 mismatch, a refused name); 2 for usage errors. Messages go to
# standard error and may contain file names from the vault: do not send them
# to a shared log.
set -euo pipefail

prog=recover-with-age

usage() {
    printf 'usage: %s VAULT_DIR IDENTITY_FILE OUT_DIR\n' "$prog" >&2
    exit 2
}
die() {
    printf '%s: %s\n' "$prog" "$*" >&2
    exit 2
}

[ "$#" -eq 3 ] || usage
vault=$1
identity=$2
out=$3

for tool in age jq sha256sum wc mktemp; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (Debian: apt-get install age jq coreutils)"
done

# Paths that start with '-' must never be read as options.
case $vault in /*) ;; *) vault=./$vault ;; esac
case $identity in /*) ;; *) identity=./$identity ;; esac
case $out in /*) ;; *) out=./$out ;; esac

[ -f "$vault/chartsafe-vault.json" ] || die "$vault is not a ChartSafe vault (no chartsafe-vault.json)"
[ -r "$identity" ] || die "cannot read the identity file $identity"

# Everything written from here on is readable by this user only.
umask 077

# The public header (FORMAT.md §1.1): format versions 1 and 2 (2 adds the
# team log, which this script does not need) are understood.
vault_id=$(jq -r '
    if type == "object" and .format == "chartsafe" and (.version == 1 or .version == 2)
       and (.id | type == "string" and test("\\A[a-z2-7]{26}\\z"))
    then .id
    else error("not a ChartSafe format 1 or 2 header") end' <"$vault/chartsafe-vault.json") ||
    die "chartsafe-vault.json is not a format 1 or 2 ChartSafe header; this script reads those only"

mkdir -p -- "$out" || die "cannot create $out"
if [ -n "$(ls -A -- "$out")" ]; then
    die "$out is not empty; give a new or empty folder"
fi

# Decrypted records hold file names: keep them inside OUT_DIR (as private as
# the restored files), and remove them on exit.
work=$(mktemp -d -- "$out/.recover-work.XXXXXXXX")
trap 'rm -rf -- "$work"' EXIT

problems=0
problem() {
    printf '%s: %s\n' "$prog" "$*" >&2
    problems=$((problems + 1))
}

# Names that sync clients, ChartSafe's own temporary files and the operating
# system leave behind (FORMAT.md §1.2).
is_ignorable() {
    case $1 in .* | '~'* | *.tmp | *.partial) return 0 ;; esac
    case ${#1} in 9 | 11) ;; *) return 1 ;; esac
    local lower
    lower=$(printf '%s' "$1" | tr 'A-Z' 'a-z')
    case $lower in desktop.ini | thumbs.db) return 0 ;; esac
    return 1
}

# Step 1: decrypt every record r/<device>/<seq> (FORMAT.md §5.1), and those of
# every collection, c/<collection>/r/<device>/<seq> (§14.3). Each becomes one
# JSON line: {"coll": "" or the collection id, "dev": ..., "file": ...,
# "hash": SHA-256 of the body, "env": envelope}.
records=$work/records.jsonl
: >"$records"
shopt -s nullglob
count=0
for rootdir in "$vault/r" "$vault"/c/*/r; do
    coll=""
    rel=r
    if [ "$rootdir" != "$vault/r" ]; then
        coll=${rootdir%/r}
        coll=${coll##*/}
        [[ $coll =~ ^[a-z2-7]{26}$ ]] || continue
        rel=c/$coll/r
    fi
    for devdir in "$rootdir"/*/; do
        dev=${devdir%/}
        dev=${dev##*/}
        if is_ignorable "$dev" || [[ ! $dev =~ ^[a-z2-7]{26}$ ]]; then
            continue
        fi
        for f in "$rootdir/$dev"/*; do
            name=${f##*/}
            if is_ignorable "$name" || [ ! -f "$f" ]; then
                continue
            fi
            if ! envelope=$(age -d -i "$identity" "$f" 2>/dev/null); then
                problem "record $rel/$dev/$(printf '%q' "$name") does not decrypt with this identity (damaged, or not from this vault); its changes are not restored"
                continue
            fi
            # The record hash is the SHA-256 of the body string's exact bytes.
            if ! hash=$(printf '%s' "$envelope" | jq -j '.body | strings' | sha256sum); then
                problem "record $rel/$dev/$(printf '%q' "$name") is not a ChartSafe record; ignored"
                continue
            fi
            hash=${hash%% *}
            if ! printf '%s' "$envelope" |
                jq -c --arg coll "$coll" --arg dev "$dev" --arg file "$name" --arg hash "$hash" \
                    '{coll: $coll, dev: $dev, file: $file, hash: $hash, env: .}' >>"$records"; then
                problem "record $rel/$dev/$(printf '%q' "$name") is not a ChartSafe record; ignored"
                continue
            fi
            count=$((count + 1))
        done
    done
done
[ "$count" -gt 0 ] || die "no record in $vault/r decrypts with this identity: wrong identity, or an empty vault"

# Step 2: merge the records into a plan (FORMAT.md §6, simplified as in §8).
# Output: NUL-terminated fields, 7 per item:
#   kind ("dir" | "file" | "problem" | "note"), entry id, blob id, sha256, size,
#   mtime (ms or ""), and the path (or the message for "problem" and "note").
plan=$work/plan
jq -s -j --arg vault "$vault_id" '
  def is_id: type == "string" and test("\\A[a-z2-7]{26}\\z");
  def str: type == "string";
  def seqname: tostring | ("0000000000" + .) | .[-10:];
  def marker_ok: . == "" or test("^[ _-]") or startswith(".sync-conflict-");
  def hex64: str and test("\\A[0-9a-fA-F]{64}\\z");
  def version_id: str and test("\\A[0-9a-fA-F]{32}\\.[0-9]+\\z");
  # FORMAT.md §5.5, except the NFC check, which jq cannot do.
  def good_name: str and . != "" and . != "." and . != ".."
    and (test("[/\\\\\\p{Cc}]") | not) and utf8bytelength <= 255;
  # The shape of a format 1 body (FORMAT.md §5.1): a record failing it is ignored whole.
  def valid_body:
    type == "object" and (.format == 1 or .format == 2) and (.vault | is_id) and (.device | is_id)
    and (.author | is_id) and (.device_name | str) and (.seq | type == "number" and . > 0)
    and (.time | type == "number") and (.prev == null or (.prev | hex64))
    and (.ops | type == "array")
    and all(.ops[]; type == "object" and (.entry | is_id) and (.parents | type == "array")
            and all(.parents[]; version_id) and (.state | type == "object")
            and (.state.parent == null or (.state.parent | is_id)) and (.state.name | good_name)
            and (.state.kind == "file" or .state.kind == "dir")
            and (.state.status == "live" or .state.status == "trash" or .state.status == "gone")
            and ((.state.kind == "file") == (.state.content != null))
            and (.state.content == null
                 or ((.state.content | type == "object") and (.state.content.blob | is_id)
                     and (.state.content.sha256 | hex64))));
  # Entry ids come from records and are printed: anything odd is shown JSON-escaped.
  def show_id: if is_id or test("\\A[a-z2-7]{26}/[a-z2-7]{26}\\z") then . else tojson end;
  def item($kind; $entry; $blob; $sha; $size; $mtime; $text):
    [$kind, ($entry | if . == "" then . else show_id end), $blob, $sha,
     ($size | tostring), ($mtime // "" | tostring), $text];

  # Records: checked as far as stock tools can (no MAC check).
  (map(
     . as $r
     | ($r.env | if type == "object" and (.chartsafe_record == 1 or .chartsafe_record == 2)
                    and (.body | str)
                 then .chartsafe_record as $v
                      | (.body | try fromjson catch null)
                      | if type == "object" and .format == $v then . else null end
                 else null end) as $b
     | (if $r.coll == "" then "r" else "c/\($r.coll)/r" end) as $dir
     | "\($dir)/\($r.dev)/\($r.file | if test("\\A[0-9A-Za-z ._()-]*\\z") then . else tojson end)" as $where
     | if $b == null or ($b | valid_body | not) then {bad: "record \($where) is not a ChartSafe record of format 1 or 2; ignored"}
       elif $b.vault != $vault then {bad: "record \($where) belongs to another vault; ignored"}
       elif $b.device != $r.dev or ($r.file[0:10] != ($b.seq | seqname))
            or ($r.file[10:] | marker_ok | not)
         then {bad: "record \($where) is not stored under its own name (replayed or renamed); ignored"}
       else {hash: $r.hash, b: $b, coll: $r.coll, dir: $dir} end)) as $checked
  | ($checked | map(select(.bad != null) | item("problem"; ""; ""; ""; ""; null; .bad))) as $bad
  | ($checked | map(select(.hash != null)) | unique_by(.hash)) as $recs

  # Gaps in each device chain (FORMAT.md §6.3).
  | ($recs | group_by([.coll, .b.device]) | map(
       "\(.[0].dir)/\(.[0].b.device)" as $d | .[0].b.device_name as $n
       | ([0] + (map(.b.seq) | unique)) as $s
       | range(0; ($s | length) - 1) as $i
       | select($s[$i + 1] > $s[$i] + 1)
       | (if $s[$i + 1] - 1 == $s[$i] + 1 then "record #\($s[$i] + 1)"
          else "records #\($s[$i] + 1) to #\($s[$i + 1] - 1)" end) as $which
       | item("problem"; ""; ""; ""; ""; null;
           "\($which) of device \($n | tojson) (\($d)) missing (not synced yet, or deleted): changes in it are not restored")
     )) as $gaps
  # Two different records under one number (a fork): both are applied, as ChartSafe does.
  | ($recs | group_by([.coll, .b.device, .b.seq]) | map(select(length > 1)
       | item("note"; ""; ""; ""; ""; null;
           "device \(.[0].b.device_name | tojson) (\(.[0].dir)/\(.[0].b.device)) has \(length) different records #\(.[0].b.seq) (a fork); all are applied")
     )) as $forks

  # Versions: one per op; id = first 32 hex of the record hash + "." + op index.
  # The entries and parents of a collection are known as "<collection>/<id>"
  # (FORMAT.md §14.3): no record reaches the entries of another collection.
  | [ $recs[] | .hash[0:32] as $h | .b as $b | .coll as $c
      | def scope: if . == null or $c == "" then . else "\($c)/\(.)" end;
      $b.ops | to_entries[]
      | { id: "\($h).\(.key)", entry: (.value.entry | scope), parents: .value.parents,
          state: (.value.state | .parent |= scope), time: $b.time, device: $b.device,
          device_name: $b.device_name, coll: $c } ] as $versions

  # Heads: versions that no version of the same entry names as a parent
  # (FORMAT.md §5.3).
  | (reduce ($versions[] | .entry as $e | .parents[] | "\($e) \(.)") as $p ({}; .[$p] = true))
    as $superseded
  | ($versions | map(select($superseded["\(.entry) \(.id)"] | not)) | group_by(.entry)
     | map(sort_by([.time, .device, .id]) | reverse
           | { key: .[0].entry,
               value: { live: (map(select(.state.status == "live")) | .[0]),
                        trash: (map(select(.state.status == "trash")) | .[0]),
                        newest: .[0],
                        others: (map(select(.state.status == "live")) | .[1:]) } }
           | .value.rep = (.value.live // .value.trash // .value.newest))
     | from_entries) as $E

  # Parents: a parent that is unknown or not a folder means the top level;
  # a cycle is cut at its smallest entry id (FORMAT.md §6.1).
  | def pof($e): $E[$e].rep.state.parent as $p
      | if $p != null and $E[$p] != null and $E[$p].rep.state.kind == "dir" then $p else null end;
    def cycle_min($e):
      def go($cur; $path):
        pof($cur) as $p
        | if $p == null then empty
          elif ($path | index([$p])) != null then $path[($path | index([$p])):] | min
          else go($p; $path + [$p]) end;
      go($e; [$e]);
    ([$E | keys[] | cycle_min(.)] | unique | map({key: ., value: true}) | from_entries) as $cut
  | def eff($e): if $cut[$e] then null else pof($e) end;
    def ancestors($e): eff($e) as $p | if $p == null then empty else $p, ancestors($p) end;

  # Shown: entries with a live head, and every folder above them.
    ([$E | to_entries[] | select(.value.live != null) | .key]) as $live
  | ([$live[], ($live[] | ancestors(.))] | unique) as $shown

  # Names: in each folder the newest keeps a clashing name, the others get
  # "stem (conflict, DEVICE, DATE).ext" (FORMAT.md §6.1).
  | def split_ext:
      (capture("\\A(?<stem>[\\s\\S]+)(?<ext>\\.[^.]*)\\z") // null) as $m
      | if $m != null and ($m.ext | utf8bytelength) <= 10 then $m else {stem: ., ext: ""} end;
    def day($ms): ($ms / 1000 | floor | try strftime("%Y-%m-%d") catch "0000-00-00");
    # The device name is made safe as ChartSafe does: separators and control
    # characters become "_", and it is cut to 40 characters.
    def conflict_name($name; $device; $date):
      ($name | split_ext) as $x
      | ($device | gsub("[/\\\\\\p{Cc}]"; "_") | .[0:40]) as $d
      | "\($x.stem) (conflict, \($d), \($date))\($x.ext)";
    def suffixed_name($name; $suffix):
      ($name | split_ext) as $x | "\($x.stem) (\($suffix))\($x.ext)";
    ($shown | map({entry: ., v: ($E[.].live // $E[.].rep), parent: eff(.)})
     | group_by(.parent)
     | map(
         group_by(.v.state.name)
         | reduce .[] as $g (
             {taken: (map({key: .[0].v.state.name, value: true}) | from_entries), out: []};
             ($g | sort_by([.v.time, .v.device, .v.id]) | reverse) as $s
             | .out += [{key: $s[0].entry, value: $s[0].v.state.name}]
             | reduce $s[1:][] as $i (.;
                 conflict_name($i.v.state.name; $i.v.device_name; day($i.v.time)) as $c
                 | (if .taken[$c] then suffixed_name($c; $i.entry[0:6]) else $c end) as $c2
                 | .taken[$c2] = true
                 | .out += [{key: $i.entry, value: $c2}]))
         | .out)
     | add // [] | from_entries) as $D

  | def comps($e): eff($e) as $p | (if $p == null then [] else comps($p) end) + [$D[$e]];
    def bad_name: . == "" or . == "." or . == ".." or contains("/") or test("\u0000");

    ($shown | map(
       . as $e | ($E[$e].live // $E[$e].rep) as $v | comps($e) as $c
       | if any($c[]; bad_name) then
           item("problem"; $e; ""; ""; ""; null;
             "entry \($e | show_id): the path \($c | tojson) holds a name that is not allowed (empty, \".\", \"..\" or with \"/\"); not restored")
         elif $v.state.kind == "dir" then
           item("dir"; $e; ""; ""; ""; null; $c | join("/"))
         elif ($v.state.content.size | type == "number" and . >= 0 and . == floor) then
           item("file"; $e;
                (if $v.coll == "" then "b" else "c/\($v.coll)/b" end) + "/" + $v.state.content.blob;
                ($v.state.content.sha256 | ascii_downcase);
                $v.state.content.size;
                ($v.state.content.mtime
                 | if type == "number" and . == floor and . > -1e15 and . < 1e15 then . else null end);
                $c | join("/"))
         else
           item("problem"; $e; ""; ""; ""; null; "entry \($e | show_id) (\($c | join("/") | tojson)): its content description is not valid; not restored")
         end)
     | sort_by(if .[0] == "dir" then 0 elif .[0] == "file" then 1 else 2 end, .[6])) as $items

  | ($shown | map({key: ., value: true}) | from_entries) as $is_shown
  | ([$E | to_entries[] | select(.value.live == null and .value.trash != null and ($is_shown[.key] | not))]
     | length) as $ntrash
  | ([$E | to_entries[] | .value.live as $p | .value.others[]
      | select(.state.kind == "file" and $p.state.kind == "file")
      | select(.state.name != $p.state.name or .state.parent != $p.state.parent
               or .state.content.sha256 != $p.state.content.sha256)] | length) as $nconf
  | ( $bad + $gaps + $forks + $items
      + (if $ntrash > 0 then [item("note"; ""; ""; ""; ""; null; "\($ntrash) trashed files and folders (counting folder contents) were not restored")] else [] end)
      + (if $nconf > 0 then [item("note"; ""; ""; ""; ""; null; "\($nconf) conflict copies were not restored (only the newest version of each file is)")] else [] end)
    )[][] + "\u0000"
' <"$records" >"$plan" || die "could not merge the records (jq failed)"

# Step 3: create folders, decrypt and verify files.
dirs=0
files=0
while IFS= read -r -d '' kind && IFS= read -r -d '' entry && IFS= read -r -d '' blob &&
    IFS= read -r -d '' sha && IFS= read -r -d '' size && IFS= read -r -d '' mtime &&
    IFS= read -r -d '' text; do
    case $kind in
    problem)
        problem "$text"
        ;;
    note)
        printf '%s: note: %s\n' "$prog" "$text" >&2
        ;;
    dir)
        if mkdir -p -- "$out/$text" 2>/dev/null; then
            dirs=$((dirs + 1))
        else
            problem "entry $entry: could not create folder $(printf '%q' "$text")"
        fi
        ;;
    file)
        dest=$out/$text
        parent=${dest%/*}
        if ! mkdir -p -- "$parent" 2>/dev/null; then
            problem "entry $entry: could not create the folder of $(printf '%q' "$text")"
            continue
        fi
        if [ -e "$dest" ] || [ -L "$dest" ]; then
            problem "entry $entry: $(printf '%q' "$text") already exists (a name that differs only in case, on a case-insensitive disk?); not overwritten"
            continue
        fi
        # The plan names the blob with its folder: b/ID, or c/COLLECTION/b/ID.
        bdir=${blob%/*}
        blob=${blob##*/}
        shard=$vault/$bdir/${blob:0:2}
        # The blob itself, or failing that a copy a sync client made (FORMAT.md §6.3).
        candidates=()
        [ -f "$shard/$blob" ] && candidates+=("$shard/$blob")
        for c in "$shard/$blob"[\ _-]* "$shard/$blob".sync-conflict-*; do
            [ -f "$c" ] && candidates+=("$c")
        done
        if [ "${#candidates[@]}" -eq 0 ]; then
            problem "entry $entry: content $bdir/${blob:0:2}/$blob of $(printf '%q' "$text") is missing from the vault folder; not restored"
            continue
        fi
        done_ok=0
        why="does not decrypt with this identity"
        for src in "${candidates[@]}"; do
            tmp=$(mktemp -- "$parent/.recover.XXXXXXXX")
            if ! age -d -i "$identity" "$src" >"$tmp" 2>/dev/null; then
                rm -f -- "$tmp"
                why="is damaged or truncated, or not encrypted to this vault"
                continue
            fi
            got=$(sha256sum <"$tmp")
            got=${got%% *}
            n=$(wc -c <"$tmp")
            n=${n//[[:space:]]/}
            if [ "$got" != "$sha" ] || [ "$n" != "$size" ]; then
                rm -f -- "$tmp"
                why="decrypts to other bytes than its record names (SHA-256 or size mismatch: swapped or replaced)"
                continue
            fi
            if [ -n "$mtime" ]; then
                touch -d "@$((mtime / 1000))" -- "$tmp" 2>/dev/null || true
            fi
            if ! mv -- "$tmp" "$dest"; then
                rm -f -- "$tmp"
                why="could not be moved into place"
                continue
            fi
            done_ok=1
            break
        done
        if [ "$done_ok" -eq 1 ]; then
            files=$((files + 1))
        else
            problem "entry $entry: content $bdir/${blob:0:2}/$blob of $(printf '%q' "$text") $why; not restored"
        fi
        ;;
    *)
        problem "internal error: unknown plan item"
        ;;
    esac
done <"$plan"

printf '%s: restored %d folders and %d files into %s\n' "$prog" "$dirs" "$files" "$out" >&2
if [ "$problems" -gt 0 ]; then
    printf '%s: %d problems (see above): the restore is incomplete or some content failed its check\n' "$prog" "$problems" >&2
    exit 1
fi
exit 0

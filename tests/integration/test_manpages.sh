#!/usr/bin/env bash
# The man pages and the bash completion cannot drift from the programs:
# make builds the pages (scdoc), man renders each without a warning, every
# long option that --help prints is in its program's page (and, for
# multisync, offered by the completion), and the EXIT STATUS section is the
# same in every program's page and holds the codes of shared/ms_rc.h.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

for tool in scdoc man; do
    command -v $tool >/dev/null || { echo "SKIP: $tool missing (deploy/install-deps.sh installs it)"; exit 77; }
done

note "make builds the four pages"
make -s BUILD="$T/build" "$T/build/man/multisync.1" "$T/build/man/multisync-master.8" \
    "$T/build/man/multisync-worker.8" "$T/build/man/multisync.ini.5" >"$T/make.out" 2>&1 ||
    fail "make could not build the man pages: $(cat "$T/make.out")"

# render PAGE : its text as man shows it, without hyphenation or
# justification and with every kind of hyphen made '-', one option a word.
render() {
    MANWIDTH=120 man --nh --nj -l "$1" 2>/dev/null | sed 's/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g'
}

for page in multisync.1 multisync-master.8 multisync-worker.8 multisync.ini.5; do
    f=$T/build/man/$page
    warnings=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null) || fail "man -l $page failed: $warnings"
    [[ -z $warnings ]] || fail "man -l $page warns: $warnings"
    render "$f" >"$T/$page.txt"
    grep -q "^NAME" "$T/$page.txt" || fail "$page has no NAME section"
    grep -q "^SEE ALSO" "$T/$page.txt" || fail "$page has no SEE ALSO section"
done

# long_options PROGRAM : every --option its --help prints.
long_options() {
    "$BIN/$1" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

note "every long option of --help is in the program's page"
for pair in multisync:multisync.1 multisync-master:multisync-master.8 multisync-worker:multisync-worker.8; do
    prog=${pair%%:*} page=${pair#*:}
    opts=$(long_options "$prog")
    [[ $(wc -l <<<"$opts") -ge 10 ]] || fail "$prog --help printed too few options: $opts"
    missing=()
    for o in $opts; do
        grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|\$)" "$T/$page.txt" || missing+=("$o")
    done
    ((${#missing[@]} == 0)) || fail "$page lacks options that $prog --help prints: ${missing[*]}"
done

note "every key the config parser knows is in multisync.ini(5)"
keys=$(sed -n 's/.*strcmp(key, "\([a-z_]*\)").*/\1/p' shared/ms_config.c | sort -u)
keys+=" keep_last keep_hourly keep_daily keep_weekly keep_monthly keep_yearly"
missing=()
for k in $keys; do
    grep -qE "(^|[^a-z_])$k([^a-z_]|\$)" "$T/multisync.ini.5.txt" || missing+=("$k")
done
((${#missing[@]} == 0)) || fail "multisync.ini(5) lacks keys: ${missing[*]}"

note "EXIT STATUS: the same in every program's page, the codes of ms_rc.h"
exit_block() { # PAGE.txt : the EXIT STATUS section up to its last code
    sed -n '/^EXIT STATUS/,/or cancelled\./p' "$1"
}
exit_block "$T/multisync.1.txt" >"$T/exit.1"
[[ -s $T/exit.1 ]] || fail "multisync(1) has no EXIT STATUS section"
for page in multisync-master.8 multisync-worker.8; do
    exit_block "$T/$page.txt" | diff -u "$T/exit.1" - >"$T/exit.diff" ||
        fail "EXIT STATUS of $page differs from multisync(1): $(cat "$T/exit.diff")"
done
for code in $(sed -n 's/^ *MS_RC_[A-Z]* = \([0-9]*\),.*/\1/p' shared/ms_rc.h); do
    grep -qE "^ +$code\$" "$T/exit.1" || fail "exit status $code (shared/ms_rc.h) is not in the man pages"
done
[[ $(grep -cE '^ +[0-9]+$' "$T/exit.1") == $(grep -c '^ *MS_RC_[A-Z]* = ' shared/ms_rc.h) ]] ||
    fail "the man pages list other exit codes than shared/ms_rc.h"

note "the bash completion offers the commands and every option of multisync --help"
comp=deploy/bash-completion/multisync
bash -n "$comp" || fail "$comp is not valid bash"
# complete WORDS... : what the completion offers for the last word.
complete_words() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
             _multisync; printf "%s\n" "${COMPREPLY[@]}"' _ "$ROOT/$comp" "$@"
}
got=$(complete_words multisync r | sort | tr '\n' ' ')
[[ $got == "report restore run " ]] || fail "multisync r<TAB> offers '$got', not report restore run"
got=$(complete_words multisync c | tr '\n' ' ')
[[ $got == "cancel " ]] || fail "multisync c<TAB> offers '$got', not cancel"
got=$(complete_words multisync status --j | tr '\n' ' ')
[[ $got == "--json " ]] || fail "multisync status --j<TAB> offers '$got'"
got=$(complete_words multisync report "" | tr '\n' ' ')
[[ $got == "last " ]] || fail "multisync report <TAB> offers '$got', not last"
mkdir -p "$T/comp/srcdir" && touch "$T/comp/file"
got=$(cd "$T/comp" && complete_words multisync run --slots 4 s | tr '\n' ' ')
[[ $got == "srcdir " ]] || fail "multisync run ... s<TAB> offers '$got', not the folder srcdir"
got=$(cd "$T/comp" && complete_words multisync status --key f | tr '\n' ' ')
[[ $got == "file " ]] || fail "multisync status --key f<TAB> offers '$got', not the file"
offered=$(for cmd in run verify status history report snapshots restore cancel keygen; do
    complete_words multisync "$cmd" --
done | sort -u)
missing=()
# The options of --help's option lines (its prose also names rsync's).
for o in $("$BIN/multisync" --help 2>&1 | grep -oE '^ +(-[a-zA-Z], +)?--[a-z][a-z0-9-]*' | grep -o -- '--.*'); do
    [[ $o == --help || $o == --version ]] && continue
    grep -qx -- "$o" <<<"$offered" || missing+=("$o")
done
((${#missing[@]} == 0)) || fail "the completion offers no command these options: ${missing[*]}"
echo "man pages and completion: ok"

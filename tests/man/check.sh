#!/usr/bin/env bash
# check.sh BUILD_DIR OUT_DIR - install libvipl from BUILD_DIR into
# OUT_DIR/stage and check its manual pages:
#   - every function vipl.h declares has a section 3 page (a new function
#     without one fails here), the page names it and its SYNOPSIS carries
#     the header's prototype (IN/OUT markers and spacing aside);
#   - no section 3 page names a function the header does not declare;
#   - every page renders with `groff -man -ww -z` without a word on stderr;
#   - man(1) finds the installed pages through MANPATH.
set -euo pipefail

build=$(realpath "$1")
out=$(realpath -m "$2")
stage=$out/stage

fail() { echo "man check: $*" >&2; exit 1; }

for tool in groff man; do
	command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"
done

rm -rf "$out"
mkdir -p "$out"
cmake --install "$build" --prefix "$stage" >/dev/null
header=$stage/include/vipl.h
[ -f "$header" ] || fail "vipl.h was not installed"
overview=$(find "$stage" -path '*/man7/vipl.7' | head -n1)
[ -n "$overview" ] || fail "vipl(7) was not installed"
mandir=$(dirname "$(dirname "$overview")")
cd "$mandir"

# One line per prototype, as the header spells it minus IN/OUT markers.
normalize() {
	sed -E 's/\<(IN|OUT)\>//g; s/[[:space:]]+/ /g; s/\( /(/g; s/ \)/)/g;
		s/ ,/,/g; s/^ //; s/ $//'
}
prototypes=$(awk '
	/^(VIP_RETURN|VIP_PVOID|void) +Vip[A-Za-z]+\(/ { p = 1; s = "" }
	p { s = s " " $0 }
	p && /\);/ { print s; p = 0 }' "$header" | normalize)
functions=$(sed -E 's/^[A-Z_a-z]+ +(Vip[A-Za-z]+)\(.*/\1/' <<<"$prototypes")
count=$(wc -l <<<"$functions")
[ "$count" -ge 40 ] || fail "found only $count functions in $header"

# The page a name leads to, following one `.so` link.
target() {
	local page=man3/$1.3 so
	so=$(sed -n 's/^\.so  *//p' "$page")
	echo "${so:-$page}"
}

# A page as plain text, lines wide enough that no prototype wraps.
render() {
	groff -man -Tascii -rLL=250n -P-c -P-b -P-u "$1" 2>/dev/null
}

# The rendered text of one section, joined into one normalized line.
section() {
	awk -v s="$2" '/^[A-Z]/ { on = ($0 == s) ; next } on' <<<"$1" |
		tr '\n' ' ' | normalize
}

errors=0
bad() { echo "man check: $*" >&2; errors=$((errors + 1)); }

while IFS= read -r proto; do
	f=$(sed -E 's/^[A-Z_a-z]+ +(Vip[A-Za-z]+)\(.*/\1/' <<<"$proto")
	if [ ! -f "man3/$f.3" ]; then
		bad "$f has no page (man3/$f.3)"
		continue
	fi
	page=$(target "$f")
	[ -f "$page" ] || { bad "man3/$f.3 links to missing $page"; continue; }
	text=$(render "$page")
	# Here-strings, not pipes into grep -q: with pipefail an early exit
	# of grep could fail the writer with SIGPIPE.
	grep -qE "(^|[ ,])$f([ ,]|$)" <<<"$(section "$text" NAME)" ||
		bad "$page: NAME does not list $f"
	grep -qF "$proto" <<<"$(section "$text" SYNOPSIS)" ||
		bad "$page: SYNOPSIS lacks the prototype: $proto"
done <<<"$prototypes"

for page in man3/*.3; do
	name=$(basename "$page" .3)
	grep -qx "$name" <<<"$functions" || bad "$page: no function $name in vipl.h"
done

# Warnings (-ww) go to stderr; any output there fails the page.
pages=0
for page in man1/*.1 man3/*.3 man7/*.7; do
	msgs=$(groff -man -ww -z "$page" 2>&1) || bad "$page: groff failed"
	[ -z "$msgs" ] || bad "$page: groff warns: $msgs"
	pages=$((pages + 1))
done

# man(1) finds and formats installed pages, links included.
export MANPATH=$mandir MANWIDTH=80 MAN_DISABLE_SECCOMP=1 MANPAGER=cat PAGER=cat
for spec in "3 VipPostSend" "3 VipPostRecv" "3 VipConnectPeerWait" "7 vipl"; do
	# shellcheck disable=SC2086 # "section name", split on purpose
	where=$(man -w $spec 2>/dev/null) || { bad "man -w $spec found nothing"; continue; }
	case $where in
	"$mandir"/*) ;;
	*) bad "man -w $spec gave $where, not a page under $mandir" ;;
	esac
	# shellcheck disable=SC2086
	shown=$(man $spec 2>/dev/null) || true
	grep -q "${spec#* }" <<<"$shown" || bad "man $spec shows no page"
done

[ "$errors" -eq 0 ] || fail "$errors problem(s)"
echo "man check: $count functions, each with a page; $pages pages render" \
	"without warnings; man finds them under $mandir"

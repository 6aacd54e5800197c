#!/usr/bin/env bash
# check.sh OUT_DIR - build libvipl's Debian packages from the tracked tree
# (debian/), check them with lintian, install them into this machine, and
# build consumer programs against what they installed, with nothing but the
# system's paths: pkg-config (shared and static) and the CMake package. The
# programs land in OUT_DIR/bin; tests/unit/test_install.c runs them, and the
# packaged vipl_info, over the device (VIPL_DEB_BIN).
#
#   check.sh OUT_DIR     build, check, install, build the consumers
#   check.sh --remove    purge the packages again (scripts/test.sh does, at
#                        its end, so the machine is left as it was)
#
# Needs root (apt-get install) and debhelper, lintian, dpkg-dev
# (scripts/install-deps.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
packages=(libvipl1 libvipl-dev vipl-utils)

fail() { echo "package check: $*" >&2; exit 1; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

if [[ ${1:-} == --remove ]]; then
	as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
		"${packages[@]}" >/dev/null 2>&1 || true
	exit 0
fi
(($# == 1)) || fail "usage: check.sh OUT_DIR | --remove"
out=$(realpath -m "$1")
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/src/libvipl-$version

# The tracked files only: a package is built from the source, not from a
# developer's build directories.
rm -rf "$out"
mkdir -p "$src" "$out/bin"
git -C "$top" ls-files -z | (cd "$top" && xargs -0 tar -cf - --no-recursion) |
	tar -xf - -C "$src"
(cd "$src" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) || {
	tail -n 30 "$out/build.log" >&2
	fail "dpkg-buildpackage failed (log: $out/build.log)"
}
debs=()
for p in "${packages[@]}"; do
	f=$out/src/${p}_${version}_$(dpkg --print-architecture).deb
	[[ -f $f ]] || fail "$p was not built"
	debs+=("$f")
done

# Errors and warnings fail (pedantic and info tags are only shown).
if command -v lintian >/dev/null; then
	tags=$(lintian --suppress-tags running-with-root-privileges \
		"$out"/src/libvipl_"${version}"_*.changes 2>&1 || true)
	if grep -q '^[EW]:' <<<"$tags"; then
		printf '%s\n' "$tags" >&2
		fail "lintian reports errors or warnings"
	fi
else
	fail "lintian is missing (scripts/install-deps.sh)"
fi

as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends "${debs[@]}" >"$out/install.log" 2>&1 || {
	tail -n 20 "$out/install.log" >&2
	fail "installing the packages failed"
}

# What the packages put where a user looks for it.
[[ -x /usr/bin/vipl_info ]] || fail "vipl-utils did not install vipl_info"
/usr/bin/vipl_info -h >/dev/null || fail "the packaged vipl_info -h failed"
for tool in vipl_send_lat vipl_write_lat vipl_send_bw vipl_write_bw; do
	/usr/bin/$tool -h >/dev/null || fail "the packaged $tool -h failed"
done
for page in vipl_info.1 vipl_send_lat.1 vipl_write_bw.1 vipl.7 VipOpenNic.3 VipPostSend.3; do
	man -w "${page%.*}" >/dev/null 2>&1 || fail "man cannot find ${page%.*}"
done
dpkg -L libvipl1 | grep -q 'libvipl\.so\.1$' || fail "libvipl1 has no libvipl.so.1"

# Consumers built with the system's paths only.
# shellcheck disable=SC2046 # word splitting of pkg-config output is wanted
cc -Wall -Wextra -Werror -o "$out/bin/consumer_deb" "$top/tests/install/consumer.c" \
	$(pkg-config --cflags --libs vipl)
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$out/bin/consumer_deb_static" \
	"$top/tests/install/consumer.c" \
	$(pkg-config --cflags --static --libs vipl | sed 's/-lvipl/-l:libvipl.a/')
cmake -S "$top/tests/install" -B "$out/cmake-build" -DCMAKE_BUILD_TYPE=Release \
	>/dev/null
cmake --build "$out/cmake-build" >/dev/null
cp "$out/cmake-build/consumer_cmake" "$out/bin/consumer_deb_cmake"
used=$(ldd "$out/bin/consumer_deb" | awk '$1 == "libvipl.so.1" { print $3 }')
[[ $(realpath "$used") == /usr/lib/* ]] ||
	fail "consumer_deb uses '$used', not the packaged library"
echo "package check: ${packages[*]} $version built, lintian clean, installed;" \
	"3 consumers built against them"

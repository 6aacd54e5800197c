#!/usr/bin/env bash
# check.sh BUILD_DIR OUT_DIR - install libvipl from BUILD_DIR into
# OUT_DIR/stage, check what was installed, and build consumer programs
# against the installed copy with CMake (shared and static) and pkg-config.
# The programs land in OUT_DIR/bin; tests/unit/test_install.c runs them
# on the device.
set -euo pipefail

build=$(realpath "$1")
out=$(realpath -m "$2")
here=$(cd "$(dirname "$0")" && pwd)
stage=$out/stage

fail() { echo "install check: $*" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/bin"
cmake --install "$build" --prefix "$stage" >/dev/null
libdir=$(dirname "$(find "$stage" -name libvipl.so.1 | head -n1)")
[ -n "$libdir" ] || fail "libvipl.so.1 was not installed"
for f in "$stage/include/vipl.h" "$libdir/libvipl.a" "$libdir/libvipl.so" \
	"$libdir/pkgconfig/vipl.pc" "$libdir/cmake/vipl/viplConfig.cmake"; do
	[ -e "$f" ] || fail "missing $f"
done
soname=$(readelf -d "$libdir/libvipl.so.1" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libvipl.so.1 ] || fail "soname is '$soname'"
others=$(nm -D --defined-only "$libdir/libvipl.so.1" |
	awk '$2 ~ /^[TDBR]$/ && $3 !~ /^Vip/ { print $3 }')
[ -z "$others" ] || fail "exports more than Vip*: $others"

# The tools: installed to bin, run, and find the libvipl installed beside
# them.
for tool in vipl_info vipl_send_lat vipl_write_lat vipl_send_bw vipl_write_bw; do
	bin=$stage/bin/$tool
	[ -x "$bin" ] || fail "$tool was not installed in $stage/bin"
	"$bin" -h >/dev/null || fail "installed $tool -h failed"
	used=$(ldd "$bin" | awk '$1 == "libvipl.so.1" { print $3 }')
	[ -n "$used" ] && [ "$(realpath "$used")" = "$(realpath "$libdir/libvipl.so.1")" ] ||
		fail "installed $tool uses '$used', not $libdir/libvipl.so.1"
done

cmake -S "$here" -B "$out/cmake-build" -DCMAKE_PREFIX_PATH="$stage" \
	-DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$out/cmake-build" >/dev/null
cp "$out/cmake-build/consumer_cmake" "$out/cmake-build/consumer_cmake_static" \
	"$out/bin/"

export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046 # word splitting of pkg-config output is wanted
cc -Wall -Wextra -Werror -o "$out/bin/consumer_pkgconfig" "$here/consumer.c" \
	$(pkg-config --cflags --libs vipl) -Wl,-rpath,"$libdir"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$out/bin/consumer_pkgconfig_static" \
	"$here/consumer.c" -static-libgcc \
	$(pkg-config --cflags --static --libs vipl | sed 's/-lvipl/-l:libvipl.a/')
echo "install check: header, libraries, pkg-config and CMake package in place;" \
	"soname $soname; only Vip* exported; 5 tools in bin; 4 consumers built"

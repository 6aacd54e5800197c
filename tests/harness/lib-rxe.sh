# shellcheck shell=bash
# Helpers to create a "loopback rxe" device, shared by rxe-run (host mode,
# when rdma_rxe can be loaded on the host) and guest-run.sh (inside the qemu
# guest). Sourced, not executed. Functions return non-zero with a message on
# stderr instead of exiting, so each caller decides how to fail.
#
# The setup that works with rdma_cm on one host (Linux 6.1, measured):
# ONE rxe device on one end of a veth pair, an IPv4 address on that end, and
# client and server processes both using that address. rxe on `lo` breaks
# rdma_resolve_route, and two rxe devices on the two veth ends (or in two
# network namespaces) never resolve each other.

# Set VAR to the tail of the sysfs GID rxe derives from an IPv4 address:
# 10.77.0.1 -> "0a4d:0001" (full GID ::ffff:10.77.0.1 in 8 groups of 4 hex).
rxe_gid_suffix() { # var addr
    local -a b
    IFS=. read -r -a b <<<"$2"
    printf -v "$1" '%02x%02x:%02x%02x' "${b[0]}" "${b[1]}" "${b[2]}" "${b[3]}"
}

# Read the first line of a sysfs FILE into variable VAR ("" on error).
# `read` is a builtin: no fork, which matters when polling under TCG.
rxe_read() { # var file
    IFS= read -r "$1" 2>/dev/null <"$2" || printf -v "$1" ''
}

# Succeed if DEV's port 1 is ACTIVE and, for rxe (TYPE, default rxe), its
# GID table holds ADDR's IPv4 GID: only then can rdma_cm resolve ADDR to
# DEV. siw's GID is its MAC address; rdma_cm finds siw by the netdev's
# address, so an ACTIVE port is enough there.
rxe_ready() {
    local dev=$1 addr=$2 type=${3:-rxe} port state want gid i
    port=/sys/class/infiniband/$dev/ports/1
    rxe_read state "$port/state"
    [[ $state == *ACTIVE* ]] || return 1
    [[ $type == rxe ]] || return 0
    rxe_gid_suffix want "$addr"
    # The IPv4 GIDs come right after the IPv6 link-local ones; reading all
    # 1024 entries would be slow under TCG.
    for ((i = 0; i < 16; i++)); do
        rxe_read gid "$port/gids/$i"
        [[ $gid == *":ffff:$want" ]] && return 0
    done
    return 1
}

# Wait up to SECONDS (wall clock) for rxe_ready DEV ADDR TYPE.
rxe_wait_ready() {
    local dev=$1 addr=$2 seconds=$3 type=${4:-rxe} deadline state
    deadline=$((SECONDS + seconds))
    until rxe_ready "$dev" "$addr" "$type"; do
        if ((SECONDS >= deadline)); then
            rxe_read state "/sys/class/infiniband/$dev/ports/1/state"
            echo "$dev did not become ready within $seconds s (port state:" \
                "'${state:-none}'; ready needs ACTIVE and a GID for $addr)" >&2
            return 1
        fi
        sleep 0.1
    done
}

# Create veth pair VETH<->PEER, put ADDR/PREFIX on VETH, and a software
# RDMA device DEV of TYPE (rxe, the default, or siw) on it. Needs the veth,
# rdma_rxe (or siw), ib_uverbs and rdma_ucm modules loaded and
# CAP_NET_ADMIN. On failure, whatever was created is left for the caller's
# cleanup (rxe_teardown).
rxe_setup_veth() {
    local veth=$1 peer=$2 dev=$3 addr=$4 prefix=$5 type=${6:-rxe}
    ip link add "$veth" type veth peer name "$peer" ||
        { echo "cannot create veth pair $veth/$peer" >&2; return 1; }
    ip addr add "$addr/$prefix" dev "$veth" ||
        { echo "cannot add $addr/$prefix to $veth" >&2; return 1; }
    # Both ends must be up: a veth without carrier keeps the rxe port DOWN.
    { ip link set "$peer" up && ip link set "$veth" up; } ||
        { echo "cannot bring $veth/$peer up" >&2; return 1; }
    rdma link add "$dev" type "$type" netdev "$veth" ||
        { echo "rdma link add $dev type $type netdev $veth failed" >&2; return 1; }
}

# Remove what rxe_setup_veth created (deleting one veth end removes both).
rxe_teardown() {
    local veth=$1 dev=$2
    rdma link delete "$dev" 2>/dev/null || true
    ip link delete "$veth" 2>/dev/null || true
}

# Add IPv6 address ADDR6/64 to NETDEV (no duplicate detection: the address
# is usable at once) and wait up to SECONDS for DEV's GID table to hold it
# (RoCE only: rxe makes a GID of every address on its netdev).
rxe_add_ipv6() { # netdev addr6 dev seconds
    local nd=$1 addr6=$2 dev=$3 seconds=$4 want gid i deadline
    # Kept when the link goes down and up (the device tests do that):
    # Linux drops IPv6 addresses on link down by default.
    echo 1 >"/proc/sys/net/ipv6/conf/$nd/keep_addr_on_down" 2>/dev/null || true
    ip -6 addr add "$addr6/64" dev "$nd" nodad ||
        { echo "cannot add $addr6 to $nd" >&2; return 1; }
    want=$(rxe_gid6 "$addr6")
    deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        for ((i = 0; i < 16; i++)); do
            rxe_read gid "/sys/class/infiniband/$dev/ports/1/gids/$i"
            [[ $gid == "$want" ]] && return 0
        done
        sleep 0.1
    done
    echo "$dev has no GID for $addr6 after $seconds s" >&2
    return 1
}

# The sysfs spelling of an IPv6 GID: fd77::1 -> fd77:0000:...:0001.
rxe_gid6() {
    local a=$1 head tail out="" g n i
    local -a hg=() tg=()
    if [[ $a == *::* ]]; then
        head=${a%%::*} tail=${a#*::}
    else
        head=$a tail=""
    fi
    [[ -z $head ]] || IFS=: read -r -a hg <<<"$head"
    [[ -z $tail ]] || IFS=: read -r -a tg <<<"$tail"
    n=$((8 - ${#hg[@]} - ${#tg[@]}))
    for g in "${hg[@]}"; do out+=$(printf '%04x:' "0x$g"); done
    for ((i = 0; i < n; i++)); do out+="0000:"; done
    for g in "${tg[@]}"; do out+=$(printf '%04x:' "0x$g"); done
    printf '%s\n' "${out%:}"
}

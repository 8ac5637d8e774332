#!/bin/bash
# Why issue 10 measured nethogs at 1.85 µs a packet while the max-rate
# runs in docs/PERFORMANCE.md find it near netop's pcap path: the same
# two monitors side by side on one veth, under one flow and under a flood
# of new flows. Each kind of traffic runs 10 s from the root namespace
# into a test host (netns nh, 10.79.0.0/24, nothing listening there):
#   one-flow   `trafficgen udp-blast --size 64` from one socket;
#   new-flows  `trafficgen flood --kind udp`: 18-byte datagrams from 256
#              sockets, each to a random port, so nearly every datagram
#              is a flow neither monitor has seen;
#   flood-in   the same from the test host into closed ports of the root
#              namespace (issue 10's flood: no local socket owns them).
# netop (`--capture pcap` and `--capture kernel`, in turn) and nethogs
# (`-t -C -d 1`, trace mode with UDP; or its curses screen with
# NETHOGS_SCREEN=1, under `script`) watch the root-side veth; each
# monitor's CPU comes from /proc/PID/stat over the traffic and the
# packets from the veth's counters. Prints one line per run: packets,
# each monitor's ns a packet. Usage (root; after `cargo build --release
# -p netop -p netop-e2e --bins`; nethogs installed):
#   tests/scripts/nethogs_flows.sh [NETOP_BINARY]
set -u
R=${T:-target/release}
netop=${1:-$R/netop}
# shellcheck source=tests/scripts/test_host.sh
. "$(dirname "$0")/test_host.sh"
test_host nh nh0 nh1 10.79.0
trap 'pkill -f "nethogs .*nh0" 2>/dev/null; ip netns del nh 2>/dev/null; ip link del nh0 2>/dev/null' EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
packets() { echo $(( $(cat /sys/class/net/nh0/statistics/rx_packets) + $(cat /sys/class/net/nh0/statistics/tx_packets) )); }

# run KIND CAPTURE: one 10-s run of traffic KIND beside netop (CAPTURE) and nethogs.
run() {
    "$netop" --capture "$2" --interface nh0 --duration 25 --format tsv >/dev/null 2>&1 & local np=$!
    if [ -n "${NETHOGS_SCREEN:-}" ]; then
        TERM=xterm script -qfc "nethogs -C -d 1 nh0" /dev/null >/dev/null 2>&1 </dev/zero &
    else
        nethogs -t -C -d 1 nh0 >/dev/null 2>&1 &
    fi
    sleep 4
    local hp
    hp=$(pgrep -n -x nethogs)
    local n0 h0 p0
    n0=$(ticks "$np"); h0=$(ticks "$hp"); p0=$(packets)
    if [ "$1" = one-flow ]; then
        (echo go) | "$R/trafficgen" udp-blast --to 10.79.0.2:9 --bind-port 40000 --seconds 10 --size 64 >/dev/null
    elif [ "$1" = new-flows ]; then
        (echo go) | "$R/trafficgen" flood --to 10.79.0.2 --kind udp --seconds 10 >/dev/null
    else
        (echo go) | ip netns exec nh "$R/trafficgen" flood --to 10.79.0.1 --kind udp --seconds 10 >/dev/null
    fi
    sleep 0.5
    local n1 h1 p1
    n1=$(ticks "$np"); h1=$(ticks "$hp"); p1=$(packets)
    kill "$np" "$hp" 2>/dev/null; wait "$np" 2>/dev/null
    pkill -f "nethogs .*nh0" 2>/dev/null
    sleep 1
    local p=$((p1 - p0))
    awk -v k="$1" -v c="$2" -v p="$p" -v n=$((n1 - n0)) -v h=$((h1 - h0)) -v s="${NETHOGS_SCREEN:+screen}" 'BEGIN {
        printf "%-9s netop --capture %-6s %10d packets: netop %4.0f ns a packet (%d ticks), nethogs%s %5.0f ns (%d ticks), netop / nethogs %.2f\n",
            k, c, p, n * 1e7 / p, n, (s ? " (" s ")" : ""), h * 1e7 / p, h, (h ? n / h : 0) }'
}

for kind in ${KINDS:-one-flow new-flows flood-in}; do
    for capture in pcap kernel; do
        run "$kind" "$capture"
    done
done

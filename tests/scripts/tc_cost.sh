#!/bin/bash
# The kernel counting program's cost per packet, without netop: the
# program built from SOURCE as build.rs builds it, loaded with bpftool and
# run on one 60-byte UDP frame with BPF_PROG_TEST_RUN 3,000,000 times
# (bpftool prints the average; an empty classifier measures about 40 ns
# of the test run's own cost on this machine).
# Usage (root, clang and bpftool installed):
#   tests/scripts/tc_cost.sh [SOURCE.bpf.c]
set -eu
src=${1:-crates/netop-linux/src/counting/netop_tc.bpf.c}
work=$(mktemp -d)
pin=/sys/fs/bpf/netop_tc_cost
trap 'rm -rf "$work" "$pin"' EXIT
clang -O2 -g -target bpf -Wall -c "$src" -o "$work/tc.o"
python3 - "$work/udp.bin" <<'PY'
import struct, sys
eth = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]) + b"\x08\x00"
payload = b"x" * 18
udp = struct.pack("!HHHH", 40000, 9, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 bytes([10, 77, 0, 1]), bytes([10, 77, 0, 2]))
open(sys.argv[1], "wb").write(eth + ip + udp)
PY
rm -rf "$pin"
bpftool prog loadall "$work/tc.o" "$pin" type classifier
for p in netop_eth_egress netop_eth_ingress; do
    for _ in 1 2 3; do
        echo -n "$p: "
        bpftool prog run pinned "$pin/$p" data_in "$work/udp.bin" repeat 3000000 | grep duration
    done
done

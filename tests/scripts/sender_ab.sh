#!/bin/bash
# The blaster's rate with and without netop, in alternating 5-s runs, so a
# drift of the machine's own rate hits both sides alike: a UDP blast from
# the root namespace into a test veth (netns ab, 10.78.0.0/24), 18-byte
# payloads, nothing listening.
# Usage (root, after `cargo build --release -p netop -p netop-e2e --bins`):
#   tests/scripts/sender_ab.sh ROUNDS "label|netop flags" ...
#   (label `none`: no monitor), e.g.
#   tests/scripts/sender_ab.sh 4 "none|" "kernel|--capture kernel"
# PIN="taskset -c 1" pins the sender. Prints "round label packets/s".
set -u
R=${T:-target/release}
rounds=$1; shift
# shellcheck source=tests/scripts/test_host.sh
. "$(dirname "$0")/test_host.sh"
test_host ab ab0 ab1 10.78.0
trap 'ip netns del ab 2>/dev/null; ip link del ab0 2>/dev/null' EXIT
for r in $(seq "$rounds"); do
    for spec in "$@"; do
        label=${spec%%|*}; args=${spec#*|}
        np=
        if [ "$label" != none ]; then
            # shellcheck disable=SC2086
            "$R/netop" --duration 9 --format tsv --interface ab0 $args >/dev/null 2>&1 & np=$!
            sleep 2.5
        fi
        out=$( (echo go) | ${PIN:-} "$R/trafficgen" udp-blast --to 10.78.0.2:9 --bind-port 40000 --seconds 5 --size 18 | grep done)
        d=$(echo "$out" | sed -E 's/.*datagrams=([0-9]+).*/\1/')
        echo "$r $label $((d / 5))"
        if [ -n "$np" ]; then wait "$np"; fi
    done
done

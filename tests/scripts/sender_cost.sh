#!/bin/bash
# What netop costs a sender per datagram, from the sender's own profile:
# a UDP blast from the root namespace into a test veth (netns ab,
# 10.78.0.0/24, 18-byte payloads, nothing listening) pinned to CPU 1,
# sampled there with `perf record -e cpu-clock` (4 kHz), once with no
# monitor and once beside each netop given (pinned to CPU 0, kernel
# counting on the veth), ROUNDS times. For each netop run it prints the
# nanoseconds per datagram of netop's programs (their own symbols) and of
# the kernel functions they call (clock, hash table, tracepoint dispatch:
# the run's time in them less the no-monitor run's before it), and their
# share of the datagram. Unlike the sender's rate, which moves by ±20 %
# between runs on a shared VM, this share is measured inside one run.
# Usage (root, perf installed, after `cargo build --release -p netop -p
# netop-e2e --bins`):
#   tests/scripts/sender_cost.sh ROUNDS NETOP_BINARY...
# With KEEP=DIR the perf data (DIR/none1.data, DIR/n1-1.data, ...) stays
# there, for `perf script -F ip,sym,symoff` against a program's machine
# code (see docs/PERFORMANCE.md, "Kernel counting, seventh session").
set -u
R=${T:-target/release}
rounds=$1; shift
if [ -n "${KEEP:-}" ]; then
    work=$KEEP
    mkdir -p "$work"
else
    work=$(mktemp -d)
fi
# shellcheck source=tests/scripts/test_host.sh
. "$(dirname "$0")/test_host.sh"
test_host ab ab0 ab1 10.78.0
trap 'ip netns del ab 2>/dev/null; ip link del ab0 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# blast NETOP|none OUT: one profiled 5-s blast; prints its datagrams.
blast() {
    local np=
    if [ "$1" != none ]; then
        taskset -c 0 "$1" --duration 12 --format tsv --interface ab0 --capture kernel >/dev/null 2>&1 & np=$!
        sleep 2.5
    fi
    perf record -q -C 1 -e cpu-clock -o "$2" -- sleep 5.5 >/dev/null 2>&1 & local pp=$!
    sleep 0.2
    (echo go) | taskset -c 1 "$R/trafficgen" udp-blast --to 10.78.0.2:9 --bind-port 40000 \
        --seconds 5 --size 18 | sed -nE 's/.*datagrams=([0-9]+).*/\1/p'
    wait "$pp"
    if [ -n "$np" ]; then kill "$np" 2>/dev/null; wait "$np" 2>/dev/null; fi
}

runs=()
for r in $(seq "$rounds"); do
    runs+=("none$r:$work/none$r.data:$(blast none "$work/none$r.data")")
    i=0
    for b in "$@"; do
        i=$((i + 1))
        runs+=("$(basename "$b")#$r:$work/n$i-$r.data:$(blast "$b" "$work/n$i-$r.data")")
    done
done

python3 - "${runs[@]}" <<'PY'
import re, subprocess, sys
# Kernel functions netop's programs call; their time beyond the
# no-monitor run's is netop's.
CALLED = ['htab_map_hash', 'lookup_nulls_elem_raw', '__htab_map_lookup_elem',
          'read_tsc', 'ktime_get_mono_fast_ns', 'bpf_ktime_get_ns',
          'bpf_ktime_get_coarse_ns', 'bpf_trace_run3',
          'call_trace_sock_send_length.constprop.0', 'bpf_get_current_pid_tgid',
          'bpf_get_socket_cookie']
def per_datagram(path, datagrams):
    out = subprocess.run(['perf', 'report', '-i', path, '--no-children', '--comm', 'trafficgen',
                          '--sort', 'sym', '--stdio', '-g', 'none', '-F', 'overhead,sample,sym'],
                         capture_output=True, text=True).stdout
    ns = {}
    for line in out.splitlines():
        if line.startswith('#') or '%' not in line:
            continue
        f = line.split()
        ns[f[3]] = ns.get(f[3], 0) + int(f[1]) * 250_000 / datagrams
    return ns
base = {}
for run in sys.argv[1:]:
    name, path, datagrams = run.split(':')
    d = per_datagram(path, int(datagrams))
    total = sum(d.values())
    if name.startswith('none'):
        base = d
        print(f'{name}: {int(datagrams) / 5:,.0f} datagrams/s, {total:.0f} ns a datagram')
        continue
    progs = {re.sub(r'bpf_prog_[0-9a-f]{16}_', '', k): v for k, v in d.items()
             if re.match(r'bpf_prog_[0-9a-f]{16}_', k) and k not in base}
    called = {k: d.get(k, 0) - base.get(k, 0) for k in CALLED}
    netop = sum(progs.values()) + sum(called.values())
    parts = ', '.join(f'{k} {v:.0f}' for k, v in sorted(progs.items()))
    calls = ', '.join(f'{k.split(".")[0]} {v:+.0f}' for k, v in called.items() if abs(v) >= 1)
    print(f'{name}: {int(datagrams) / 5:,.0f} datagrams/s, {total:.0f} ns a datagram; '
          f'netop {netop:.0f} ns ({100 * netop / total:.1f} %): {parts}; calls {calls}')
PY

#!/bin/bash
# Kernel drops of the monitor (or a snapshot) at full packet rate: a UDP
# blast on a test veth (netns nb, 10.231.90.0/24) while netop captures it.
# Usage (root, after `cargo build --release --bins`):
#   tests/scripts/monitor_drops.sh monitor|snapshot [SECONDS]; EXTRA=... adds netop flags.
# Prints the blast's packet count and the status bar (or stderr).
set -u
T=${T:-target/release}
MODE=${1:-monitor}
SECS=${2:-20}
# shellcheck source=tests/scripts/test_host.sh
. "$(dirname "$0")/test_host.sh"
test_host nb nbh nbn 10.231.90
cleanup() { tmux kill-session -t nb 2>/dev/null; ip netns del nb 2>/dev/null; ip link del nbh 2>/dev/null; }
trap cleanup EXIT
if [ "$MODE" = monitor ]; then
  tmux new-session -d -s nb -x 120 -y 40 "$T/netop --interface nbh ${EXTRA:-}"
  sleep 2
else
  ($T/netop --interface nbh --duration $((SECS+3)) --format tsv >/tmp/snap.tsv 2>/tmp/snap.err &)
  sleep 1
fi
( sleep 0.5; echo go ) | $T/trafficgen udp-blast --to 10.231.90.2:9 --bind-port 40000 --seconds $SECS > /tmp/blast.out 2>&1
cat /tmp/blast.out | tail -3
if [ "$MODE" = monitor ]; then
  tmux capture-pane -p -t nb | tail -2
  tmux send-keys -t nb q; sleep 1
else
  sleep 4; cat /tmp/snap.err; grep -i trafficgen /tmp/snap.tsv | head -3
fi

complete -c netop -l duration -d 'Snapshot mode: collect per-process traffic for SECONDS (1.0 to 3600.0), print it and exit. Without it, netop runs the interactive monitor' -r
complete -c netop -l filter -d 'Show only processes whose name, or traffic whose remote address, contains PATTERN (case-insensitive)' -r
complete -c netop -l bpf-buffer -d 'Kernel capture buffer in bytes (4096 to 67108864, default 4 MiB). Raise it if the kernel reports dropped packets' -r
complete -c netop -l completions -d 'Print the shell completion script for SHELL on stdout and exit (bash, zsh, fish, elvish, powershell)' -r -f -a "bash\t''
elvish\t''
fish\t''
powershell\t''
zsh\t''"
complete -c netop -l alert -d 'Flag every process or connection whose rate (rx + tx) is above RATE bytes per second (e.g. 500K, 2MB, 1.5G; base 10): a highlighted row, the status bar and the bell in the monitor; in a snapshot, exit code 5 when a process crossed it (the table is still printed)' -r
complete -c netop -l bpf -d 'Capture only packets matching this libpcap filter expression (tcpdump\'s syntax: \'tcp port 443\', \'not host 10.0.0.5\'). Every view and total then counts only those packets; DNS is parsed when the expression lets port-53 packets through. An invalid expression exits with code 2 and libpcap\'s message' -r
complete -c netop -l exclude -d 'Hide processes whose name contains PATTERN (case-insensitive; repeatable): the counterpart of --filter, in the monitor and in snapshots' -r
complete -c netop -l write -d 'Also save the captured packets to FILE (pcapng), each with a comment naming its process ("pid 1842 firefox"; "unknown" when no process owns it), for Wireshark or `tshark -T fields -e frame.comment`. Packets are the bytes netop captures: headers (256 bytes), whole DNS messages' -r -F
complete -c netop -l interface -d 'Capture only on this interface (default: all interfaces)' -r
complete -c netop -l interval -d 'Monitor refresh interval in seconds (0.2 to 60): how often sockets are re-read and the screen redrawn; rates are averaged over it. With --format ndjson: the time between two lines' -r
complete -c netop -l sort -d 'Initial sort column of the monitor' -r -f -a "traffic\t''
pid\t''
name\t''
connections\t''"
complete -c netop -l format -d 'Snapshot output format' -r -f -a "tsv\t'Tab-separated, with a header row'
json\t'A JSON array of objects'
pretty\t'A human-readable table with a TOTAL line'
ndjson\t'A stream: one JSON object per --interval (deltas and totals), until stopped or for --duration'"
complete -c netop -l theme -d 'The monitor\'s colours: default, light, high-contrast, monochrome, classic (t cycles them). NO_COLOR and --no-color still win' -r -f -a "default\t''
light\t''
high-contrast\t''
monochrome\t''
classic\t''"
complete -c netop -l capture -d 'How traffic is counted. `auto` (the default): per flow in an eBPF program on each interface\'s traffic-control hooks (only DNS packets are still copied, by that program), or every packet through libpcap where that cannot run (no root/CAP_BPF, no TC BPF, --bpf or --write); --diagnostics and the status bar say which and why. `kernel`: the same, and a snapshot says on stderr when it falls back. `pcap`: every packet\'s headers through libpcap' -r -f -a "auto\t'In the kernel where permitted, else every packet through libpcap'
pcap\t'Every packet through libpcap'
kernel\t'Counted in the kernel (eBPF on TC), DNS packets copied by the same programs; says so when it falls back'"
complete -c netop -l owners -d 'How socket owners are found: `auto` (default) tries the eBPF event source, then the perf tracepoint sock:inet_sock_set_state (the owners of outgoing TCP connections, where eBPF is not permitted but perf is: CAP_PERFMON without CAP_BPF, kernels without BTF), then polling; `events` skips the tracepoint; `tracepoint` skips eBPF; `polling` polls sock_diag and /proc only (as --no-events, which wins when both are given). --diagnostics says which runs and why' -r -f -a "auto\t'eBPF events, else the perf tracepoint, else polling'
events\t'eBPF events, else polling'
tracepoint\t'The perf tracepoint (eBPF not tried), else polling'
polling\t'sock_diag and /proc only'"
complete -c netop -l monitor -d 'Run the interactive monitor (the default without --duration)'
complete -c netop -l no-color -d 'Disable colored output (also when NO_COLOR is set to any value)'
complete -c netop -l no-dns -d 'Disable the DNS observatory (no capture or parsing of port 53 traffic)'
complete -c netop -l dns-log -d 'Snapshot: print the DNS query log of the period instead of the process table (columns: time, pid, process, query, type, response, latency_ms, resolver, status)'
complete -c netop -l containers -d 'Show each process\'s container (runtime and name or short id, read from its cgroup; e.g. docker:3f2a1b4c5d6e): a Container column in the monitor\'s Process view and in --format pretty, a "container" field in JSON and a trailing container column in TSV (`-` for none)'
complete -c netop -l no-events -d 'Do not load the per-socket event source (eBPF): find socket owners by polling sock_diag and /proc only. Short-lived connections and processes may then show as unknown. netop also polls, and says so, where the event source cannot run (no root/CAP_BPF, no kernel BTF)'
complete -c netop -l diagnostics -d 'Print how netop would find socket owners here (the event source, or polling and why) and whether it may capture, then exit'
complete -c netop -l resolve -d 'Monitor: name remote addresses the DNS observatory has not named by reverse DNS (PTR queries to the first resolver of /etc/resolv.conf, asynchronous, cached for their TTL). Off by default, since it sends queries; they show as netop\'s in the DNS view'
complete -c netop -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netop -s V -l version -d 'Print version'

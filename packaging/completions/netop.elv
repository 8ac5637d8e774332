
use builtin;
use str;

set edit:completion:arg-completer[netop] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'netop'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'netop'= {
            cand --duration 'Snapshot mode: collect per-process traffic for SECONDS (1.0 to 3600.0), print it and exit. Without it, netop runs the interactive monitor'
            cand --filter 'Show only processes whose name, or traffic whose remote address, contains PATTERN (case-insensitive)'
            cand --bpf-buffer 'Kernel capture buffer in bytes (4096 to 67108864, default 4 MiB). Raise it if the kernel reports dropped packets'
            cand --completions 'Print the shell completion script for SHELL on stdout and exit (bash, zsh, fish, elvish, powershell)'
            cand --alert 'Flag every process or connection whose rate (rx + tx) is above RATE bytes per second (e.g. 500K, 2MB, 1.5G; base 10): a highlighted row, the status bar and the bell in the monitor; in a snapshot, exit code 5 when a process crossed it (the table is still printed)'
            cand --bpf 'Capture only packets matching this libpcap filter expression (tcpdump''s syntax: ''tcp port 443'', ''not host 10.0.0.5''). Every view and total then counts only those packets; DNS is parsed when the expression lets port-53 packets through. An invalid expression exits with code 2 and libpcap''s message'
            cand --exclude 'Hide processes whose name contains PATTERN (case-insensitive; repeatable): the counterpart of --filter, in the monitor and in snapshots'
            cand --write 'Also save the captured packets to FILE (pcapng), each with a comment naming its process ("pid 1842 firefox"; "unknown" when no process owns it), for Wireshark or `tshark -T fields -e frame.comment`. Packets are the bytes netop captures: headers (256 bytes), whole DNS messages'
            cand --interface 'Capture only on this interface (default: all interfaces)'
            cand --interval 'Monitor refresh interval in seconds (0.2 to 60): how often sockets are re-read and the screen redrawn; rates are averaged over it. With --format ndjson: the time between two lines'
            cand --sort 'Initial sort column of the monitor'
            cand --format 'Snapshot output format'
            cand --theme 'The monitor''s colours: default, light, high-contrast, monochrome, classic (t cycles them). NO_COLOR and --no-color still win'
            cand --capture 'How traffic is counted. `auto` (the default): per flow in an eBPF program on each interface''s traffic-control hooks (only DNS packets are still copied, by that program), or every packet through libpcap where that cannot run (no root/CAP_BPF, no TC BPF, --bpf or --write); --diagnostics and the status bar say which and why. `kernel`: the same, and a snapshot says on stderr when it falls back. `pcap`: every packet''s headers through libpcap'
            cand --owners 'How socket owners are found: `auto` (default) tries the eBPF event source, then the perf tracepoint sock:inet_sock_set_state (the owners of outgoing TCP connections, where eBPF is not permitted but perf is: CAP_PERFMON without CAP_BPF, kernels without BTF), then polling; `events` skips the tracepoint; `tracepoint` skips eBPF; `polling` polls sock_diag and /proc only (as --no-events, which wins when both are given). --diagnostics says which runs and why'
            cand --monitor 'Run the interactive monitor (the default without --duration)'
            cand --no-color 'Disable colored output (also when NO_COLOR is set to any value)'
            cand --no-dns 'Disable the DNS observatory (no capture or parsing of port 53 traffic)'
            cand --dns-log 'Snapshot: print the DNS query log of the period instead of the process table (columns: time, pid, process, query, type, response, latency_ms, resolver, status)'
            cand --containers 'Show each process''s container (runtime and name or short id, read from its cgroup; e.g. docker:3f2a1b4c5d6e): a Container column in the monitor''s Process view and in --format pretty, a "container" field in JSON and a trailing container column in TSV (`-` for none)'
            cand --no-events 'Do not load the per-socket event source (eBPF): find socket owners by polling sock_diag and /proc only. Short-lived connections and processes may then show as unknown. netop also polls, and says so, where the event source cannot run (no root/CAP_BPF, no kernel BTF)'
            cand --diagnostics 'Print how netop would find socket owners here (the event source, or polling and why) and whether it may capture, then exit'
            cand --resolve 'Monitor: name remote addresses the DNS observatory has not named by reverse DNS (PTR queries to the first resolver of /etc/resolv.conf, asynchronous, cached for their TTL). Off by default, since it sends queries; they show as netop''s in the DNS view'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}

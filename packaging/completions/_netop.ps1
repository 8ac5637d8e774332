
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'netop' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'netop'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'netop' {
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Snapshot mode: collect per-process traffic for SECONDS (1.0 to 3600.0), print it and exit. Without it, netop runs the interactive monitor')
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Show only processes whose name, or traffic whose remote address, contains PATTERN (case-insensitive)')
            [CompletionResult]::new('--bpf-buffer', '--bpf-buffer', [CompletionResultType]::ParameterName, 'Kernel capture buffer in bytes (4096 to 67108864, default 4 MiB). Raise it if the kernel reports dropped packets')
            [CompletionResult]::new('--completions', '--completions', [CompletionResultType]::ParameterName, 'Print the shell completion script for SHELL on stdout and exit (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('--alert', '--alert', [CompletionResultType]::ParameterName, 'Flag every process or connection whose rate (rx + tx) is above RATE bytes per second (e.g. 500K, 2MB, 1.5G; base 10): a highlighted row, the status bar and the bell in the monitor; in a snapshot, exit code 5 when a process crossed it (the table is still printed)')
            [CompletionResult]::new('--bpf', '--bpf', [CompletionResultType]::ParameterName, 'Capture only packets matching this libpcap filter expression (tcpdump''s syntax: ''tcp port 443'', ''not host 10.0.0.5''). Every view and total then counts only those packets; DNS is parsed when the expression lets port-53 packets through. An invalid expression exits with code 2 and libpcap''s message')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Hide processes whose name contains PATTERN (case-insensitive; repeatable): the counterpart of --filter, in the monitor and in snapshots')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Also save the captured packets to FILE (pcapng), each with a comment naming its process ("pid 1842 firefox"; "unknown" when no process owns it), for Wireshark or `tshark -T fields -e frame.comment`. Packets are the bytes netop captures: headers (256 bytes), whole DNS messages')
            [CompletionResult]::new('--interface', '--interface', [CompletionResultType]::ParameterName, 'Capture only on this interface (default: all interfaces)')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Monitor refresh interval in seconds (0.2 to 60): how often sockets are re-read and the screen redrawn; rates are averaged over it. With --format ndjson: the time between two lines')
            [CompletionResult]::new('--sort', '--sort', [CompletionResultType]::ParameterName, 'Initial sort column of the monitor')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Snapshot output format')
            [CompletionResult]::new('--theme', '--theme', [CompletionResultType]::ParameterName, 'The monitor''s colours: default, light, high-contrast, monochrome, classic (t cycles them). NO_COLOR and --no-color still win')
            [CompletionResult]::new('--capture', '--capture', [CompletionResultType]::ParameterName, 'How traffic is counted. `auto` (the default): per flow in an eBPF program on each interface''s traffic-control hooks (only DNS packets are still copied, by that program), or every packet through libpcap where that cannot run (no root/CAP_BPF, no TC BPF, --bpf or --write); --diagnostics and the status bar say which and why. `kernel`: the same, and a snapshot says on stderr when it falls back. `pcap`: every packet''s headers through libpcap')
            [CompletionResult]::new('--owners', '--owners', [CompletionResultType]::ParameterName, 'How socket owners are found: `auto` (default) tries the eBPF event source, then the perf tracepoint sock:inet_sock_set_state (the owners of outgoing TCP connections, where eBPF is not permitted but perf is: CAP_PERFMON without CAP_BPF, kernels without BTF), then polling; `events` skips the tracepoint; `tracepoint` skips eBPF; `polling` polls sock_diag and /proc only (as --no-events, which wins when both are given). --diagnostics says which runs and why')
            [CompletionResult]::new('--monitor', '--monitor', [CompletionResultType]::ParameterName, 'Run the interactive monitor (the default without --duration)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colored output (also when NO_COLOR is set to any value)')
            [CompletionResult]::new('--no-dns', '--no-dns', [CompletionResultType]::ParameterName, 'Disable the DNS observatory (no capture or parsing of port 53 traffic)')
            [CompletionResult]::new('--dns-log', '--dns-log', [CompletionResultType]::ParameterName, 'Snapshot: print the DNS query log of the period instead of the process table (columns: time, pid, process, query, type, response, latency_ms, resolver, status)')
            [CompletionResult]::new('--containers', '--containers', [CompletionResultType]::ParameterName, 'Show each process''s container (runtime and name or short id, read from its cgroup; e.g. docker:3f2a1b4c5d6e): a Container column in the monitor''s Process view and in --format pretty, a "container" field in JSON and a trailing container column in TSV (`-` for none)')
            [CompletionResult]::new('--no-events', '--no-events', [CompletionResultType]::ParameterName, 'Do not load the per-socket event source (eBPF): find socket owners by polling sock_diag and /proc only. Short-lived connections and processes may then show as unknown. netop also polls, and says so, where the event source cannot run (no root/CAP_BPF, no kernel BTF)')
            [CompletionResult]::new('--diagnostics', '--diagnostics', [CompletionResultType]::ParameterName, 'Print how netop would find socket owners here (the event source, or polling and why) and whether it may capture, then exit')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Monitor: name remote addresses the DNS observatory has not named by reverse DNS (PTR queries to the first resolver of /etc/resolv.conf, asynchronous, cached for their TTL). Off by default, since it sends queries; they show as netop''s in the DNS view')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}

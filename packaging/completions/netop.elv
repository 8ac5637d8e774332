
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
            cand --format 'Snapshot output format'
            cand --filter 'Show only processes whose name, or traffic whose remote address, contains PATTERN (case-insensitive)'
            cand --interface 'Capture only on this interface (default: all interfaces)'
            cand --sort 'Initial sort column of the monitor'
            cand --interval 'Monitor refresh interval in seconds (0.2 to 60): how often sockets are re-read and the screen redrawn; rates are averaged over it. With --format ndjson: the time between two lines'
            cand --bpf-buffer 'Kernel capture buffer in bytes (4096 to 67108864, default 8 MiB). Raise it if the kernel reports dropped packets'
            cand --completions 'Print the shell completion script for SHELL on stdout and exit (bash, zsh, fish, elvish, powershell)'
            cand --monitor 'Run the interactive monitor (the default without --duration)'
            cand --no-color 'Disable colored output (also when NO_COLOR is set to any value)'
            cand --no-dns 'Disable the DNS observatory (no capture or parsing of port 53 traffic)'
            cand --dns-log 'Snapshot: print the DNS query log of the period instead of the process table (columns: time, pid, process, query, type, response, latency_ms, resolver, status)'
            cand --containers 'Show each process''s container (runtime and name or short id, read from its cgroup; e.g. docker:3f2a1b4c5d6e): a Container column in the monitor''s Process view and in --format pretty, a "container" field in JSON and a trailing container column in TSV (`-` for none)'
            cand --no-events 'Do not load the per-socket event source (eBPF): find socket owners by polling sock_diag and /proc only. Short-lived connections and processes may then show as unknown. netop also polls, and says so, where the event source cannot run (no root/CAP_BPF, no kernel BTF)'
            cand --diagnostics 'Print how netop would find socket owners here (the event source, or polling and why) and whether it may capture, then exit'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}

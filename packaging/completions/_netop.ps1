
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
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Snapshot output format')
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Show only processes whose name, or traffic whose remote address, contains PATTERN (case-insensitive)')
            [CompletionResult]::new('--interface', '--interface', [CompletionResultType]::ParameterName, 'Capture only on this interface (default: all interfaces)')
            [CompletionResult]::new('--sort', '--sort', [CompletionResultType]::ParameterName, 'Initial sort column of the monitor')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Monitor refresh interval in seconds (0.2 to 60): how often sockets are re-read and the screen redrawn; rates are averaged over it. With --format ndjson: the time between two lines')
            [CompletionResult]::new('--bpf-buffer', '--bpf-buffer', [CompletionResultType]::ParameterName, 'Kernel capture buffer in bytes (4096 to 67108864, default 8 MiB). Raise it if the kernel reports dropped packets')
            [CompletionResult]::new('--completions', '--completions', [CompletionResultType]::ParameterName, 'Print the shell completion script for SHELL on stdout and exit (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('--monitor', '--monitor', [CompletionResultType]::ParameterName, 'Run the interactive monitor (the default without --duration)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colored output (also when NO_COLOR is set to any value)')
            [CompletionResult]::new('--no-dns', '--no-dns', [CompletionResultType]::ParameterName, 'Disable the DNS observatory (no capture or parsing of port 53 traffic)')
            [CompletionResult]::new('--dns-log', '--dns-log', [CompletionResultType]::ParameterName, 'Snapshot: print the DNS query log of the period instead of the process table (columns: time, pid, process, query, type, response, latency_ms, resolver, status)')
            [CompletionResult]::new('--containers', '--containers', [CompletionResultType]::ParameterName, 'Show each process''s container (runtime and name or short id, read from its cgroup; e.g. docker:3f2a1b4c5d6e): a Container column in the monitor''s Process view and in --format pretty, a "container" field in JSON and a trailing container column in TSV (`-` for none)')
            [CompletionResult]::new('--no-events', '--no-events', [CompletionResultType]::ParameterName, 'Do not load the per-socket event source (eBPF): find socket owners by polling sock_diag and /proc only. Short-lived connections and processes may then show as unknown. netop also polls, and says so, where the event source cannot run (no root/CAP_BPF, no kernel BTF)')
            [CompletionResult]::new('--diagnostics', '--diagnostics', [CompletionResultType]::ParameterName, 'Print how netop would find socket owners here (the event source, or polling and why) and whether it may capture, then exit')
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

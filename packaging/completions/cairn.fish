# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cairn_global_optspecs
    string join \n repo= q/quiet log-format= h/help V/version
end

function __fish_cairn_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cairn_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cairn_using_subcommand
    set -l cmd (__fish_cairn_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cairn -n "__fish_cairn_needs_command" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_needs_command" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_needs_command" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_needs_command" -s V -l version -d 'Print version'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "key" -d 'Keys: generate an identity, rotate or list the recipients'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "init" -d 'Create the internal repository, encrypting to these recipients'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "service" -d 'Configure the services a backup covers'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "backup" -d 'Run one coordinated full backup of all services'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "list" -d 'List the backups'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "show" -d 'Show one backup in detail'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "restore" -d 'Restore a backup (or one service, or one path) into a directory'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "verify" -d 'Check the repository: every object present and matching its name'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "target" -d 'The external location (SMB 3 share or local directory) backups are exported to'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "export" -d 'Export to the target every backup not yet there (resumes an interrupted export)'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "recover" -d 'Recover the cloud from the share alone onto a fresh controller'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "jobs" -d 'Job history, newest first'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "alerts" -d 'Active alerts with their remediation (--all for the history)'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "notify" -d 'The command that receives every alert raised and cleared (JSON on stdin)'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "schedule" -d 'The schedule and retention policy that `cairn serve` keeps'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "serve" -d 'Run the scheduler in the foreground: backup, export, prune and verify on their schedules; with --listen, also the management API'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "token" -d 'The management API\'s tokens'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "mount" -d 'Show every backup as a read-only filesystem: MOUNTPOINT/<backup-id>/<service>/… and MOUNTPOINT/latest'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "prune" -d 'Forget backups outside the retention policy (never the newest) and reclaim the space no kept backup needs, on the internal repository and on the target'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "completions" -d 'Print the shell completion script for bash, zsh or fish'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "doctor" -d 'Check every requirement: repository, recipients, target (reachable, writable, encrypted, room for the schedule and retention), last backup, alerts, local disk, clock'
complete -c cairn -n "__fish_cairn_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand key; and not __fish_seen_subcommand_from generate rotate list help" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand key; and not __fish_seen_subcommand_from generate rotate list help" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand key; and not __fish_seen_subcommand_from generate rotate list help" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand key; and not __fish_seen_subcommand_from generate rotate list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand key; and not __fish_seen_subcommand_from generate rotate list help" -f -a "generate" -d 'Write a new age identity to FILE (mode 0600) and print its public recipient'
complete -c cairn -n "__fish_cairn_using_subcommand key; and not __fish_seen_subcommand_from generate rotate list help" -f -a "rotate" -d 'Make new backups encrypt to these recipients (older backups keep theirs)'
complete -c cairn -n "__fish_cairn_using_subcommand key; and not __fish_seen_subcommand_from generate rotate list help" -f -a "list" -d 'Show the repository fingerprint and which recipients each backup was written for'
complete -c cairn -n "__fish_cairn_using_subcommand key; and not __fish_seen_subcommand_from generate rotate list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from generate" -l output -d 'Where to write the identity; never overwritten' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from generate" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from generate" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from generate" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from rotate" -l recipient -d 'An age public key (`age1…`); repeat for several' -r
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from rotate" -l recipients-file -d 'A file of recipients, one per line, `#` comments allowed' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from rotate" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from rotate" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from rotate" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from list" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from list" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from list" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from list" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Write a new age identity to FILE (mode 0600) and print its public recipient'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Make new backups encrypt to these recipients (older backups keep theirs)'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "list" -d 'Show the repository fingerprint and which recipients each backup was written for'
complete -c cairn -n "__fish_cairn_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand init" -l recipient -d 'An age public key (`age1…`); repeat for several' -r
complete -c cairn -n "__fish_cairn_using_subcommand init" -l recipients-file -d 'A file of recipients, one per line, `#` comments allowed' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand init" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand init" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand init" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -f -a "add" -d 'Add a service: a directory (--path) or a command\'s output (--command)'
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -f -a "set" -d 'Change a service\'s hooks, restore command or restore order'
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -f -a "list" -d 'List the services'
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -f -a "remove" -d 'Remove a service (its backups stay)'
complete -c cairn -n "__fish_cairn_using_subcommand service; and not __fish_seen_subcommand_from add set list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l path -d 'Directory to back up' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l command -d 'Command whose standard output is backed up (run with sh -c)' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l restore-command -d 'Command that takes the output on standard input at recovery' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l chunk-size -d 'Average chunk size (1K to 4M; min a quarter, max four times it), fixed for the service\'s life. Default: 8K for --command (dumps change in small scattered edits); for --path, 16K or more when most of its bytes are in files of 64 MiB or more (dumps, images; enough for at most 256Ki chunks of them), else the repository\'s 256K. To change it, remove and add the service again: its next backup then stores all its data once more (nothing is lost, old backups stay readable)' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l prepare -d 'Hook run before capture, every service\'s at once (flush, freeze, snapshot); capture begins when all succeeded. It may print CAIRN_CAPTURE_PATH=DIR to name the directory to capture. With `service set`, \'\' removes it' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l release -d 'Hook run as soon as the service\'s capture ends; always runs once prepare succeeded, also when the backup fails or is cancelled. With `service set`, \'\' removes it' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l capture-path -d 'Capture this directory (a snapshot mount) instead of --path' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l timeout -d 'Time limit of each hook (e.g. 30s, 10m; default 10m); past it the hook\'s process group is killed' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l restore-after -d 'At recovery, run this service\'s restore command after OTHER\'s (repeatable; a cycle is refused). With `service set`, \'\' clears the list' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -l restore-command -d 'Command that takes the output on standard input at recovery (\'\' removes it)' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -l prepare -d 'Hook run before capture, every service\'s at once (flush, freeze, snapshot); capture begins when all succeeded. It may print CAIRN_CAPTURE_PATH=DIR to name the directory to capture. With `service set`, \'\' removes it' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -l release -d 'Hook run as soon as the service\'s capture ends; always runs once prepare succeeded, also when the backup fails or is cancelled. With `service set`, \'\' removes it' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -l capture-path -d 'Capture this directory (a snapshot mount) instead of --path' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -l timeout -d 'Time limit of each hook (e.g. 30s, 10m; default 10m); past it the hook\'s process group is killed' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -l restore-after -d 'At recovery, run this service\'s restore command after OTHER\'s (repeatable; a cycle is refused). With `service set`, \'\' clears the list' -r
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from list" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from list" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from list" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from list" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from remove" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from remove" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a service: a directory (--path) or a command\'s output (--command)'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "set" -d 'Change a service\'s hooks, restore command or restore order'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the services'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a service (its backups stay)'
complete -c cairn -n "__fish_cairn_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand backup" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand backup" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand backup" -l json -d 'Print a JSON summary instead of text'
complete -c cairn -n "__fish_cairn_using_subcommand backup" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand backup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand list" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand list" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand list" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand list" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand show" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand show" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand show" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand show" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand restore" -l target -d 'Directory to restore into (as DIR/<service>/…)' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand restore" -l identity -d 'The age identity file (private key)' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand restore" -l service -d 'Only this service' -r
complete -c cairn -n "__fish_cairn_using_subcommand restore" -l path -d 'Only this path inside the service (e.g. conf/d5)' -r
complete -c cairn -n "__fish_cairn_using_subcommand restore" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand restore" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand restore" -l overwrite -d 'Restore into a non-empty directory, replacing what is there'
complete -c cairn -n "__fish_cairn_using_subcommand restore" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand verify" -l identity -d 'The age identity file (private key)' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand verify" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand verify" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand verify" -l from-target -d 'Check the target\'s own copy (read over the network) instead of the internal repository'
complete -c cairn -n "__fish_cairn_using_subcommand verify" -l read-data -d 'Decrypt and check every chunk (needs --identity)'
complete -c cairn -n "__fish_cairn_using_subcommand verify" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand verify" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand target; and not __fish_seen_subcommand_from set show clear help" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand target; and not __fish_seen_subcommand_from set show clear help" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand target; and not __fish_seen_subcommand_from set show clear help" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand target; and not __fish_seen_subcommand_from set show clear help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand target; and not __fish_seen_subcommand_from set show clear help" -f -a "set" -d 'Set the external location; checks it can write there before saving'
complete -c cairn -n "__fish_cairn_using_subcommand target; and not __fish_seen_subcommand_from set show clear help" -f -a "show" -d 'Show the target (never the password)'
complete -c cairn -n "__fish_cairn_using_subcommand target; and not __fish_seen_subcommand_from set show clear help" -f -a "clear" -d 'Forget the target (nothing on it is deleted)'
complete -c cairn -n "__fish_cairn_using_subcommand target; and not __fish_seen_subcommand_from set show clear help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -l username -d 'SMB username, or the S3 access key id (else AWS_ACCESS_KEY_ID)' -r
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -l password-file -d 'File holding the SMB password, the S3 secret key (else AWS_SECRET_ACCESS_KEY) or the Azure account key (else AZURE_STORAGE_KEY) (or CAIRN_PASSWORD_FILE)' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -l endpoint -d 'The object store\'s URL, for an S3-compatible store or Azurite (s3:// and az:// only)' -r
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -l region -d 'The S3 region (s3:// only; else AWS_REGION)' -r
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -l allow-unencrypted -d 'Accept an SMB server that offers no encryption (by default SMB 3 encryption is required and such a server is refused); `target show` then shows a warning'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from show" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from show" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from show" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from show" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from clear" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from clear" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from clear" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from clear" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set the external location; checks it can write there before saving'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show the target (never the password)'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from help" -f -a "clear" -d 'Forget the target (nothing on it is deleted)'
complete -c cairn -n "__fish_cairn_using_subcommand target; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand export" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand export" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand export" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l from -d 'The share: `smb://HOST[:PORT]/SHARE[/PATH]`, `s3://BUCKET[/PREFIX]`, `az://ACCOUNT/CONTAINER[/PREFIX]` (or a local directory)' -r
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l username -d 'SMB username, or the S3 access key id' -r
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l password-file -d 'File holding the SMB password, the S3 secret key or the Azure account key (or CAIRN_PASSWORD_FILE)' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l endpoint -d 'The object store\'s URL (s3:// and az:// only), as for `target set`' -r
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l region -d 'The S3 region (s3:// only)' -r
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l identity -d 'The age identity file (private key)' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l target -d 'Where to restore every service\'s data (as DIR/<service>/…)' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l backup -d 'Which backup (default: the newest)' -r
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l fingerprint -d 'The repository fingerprint kept with the identity (printed by `cairn init` and `cairn key list`); nothing not signed by its key is accepted. Without it, recover lists the fingerprints found on the share and stops' -r
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand recover" -l allow-unencrypted -d 'Accept an SMB server that offers no encryption (by default SMB 3 encryption is required); the recovered controller keeps exporting there with the same setting, which `target show` shows as a warning'
complete -c cairn -n "__fish_cairn_using_subcommand recover" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand recover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand jobs" -l limit -d 'How many jobs at most' -r
complete -c cairn -n "__fish_cairn_using_subcommand jobs" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand jobs" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand jobs" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand jobs" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand jobs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand alerts" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand alerts" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand alerts" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand alerts" -l all -d 'Cleared alerts too'
complete -c cairn -n "__fish_cairn_using_subcommand alerts" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand alerts" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and not __fish_seen_subcommand_from set show clear help" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand notify; and not __fish_seen_subcommand_from set show clear help" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand notify; and not __fish_seen_subcommand_from set show clear help" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and not __fish_seen_subcommand_from set show clear help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and not __fish_seen_subcommand_from set show clear help" -f -a "set" -d 'Run CMD (sh -c) with each alert raised or cleared as one JSON document on stdin'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and not __fish_seen_subcommand_from set show clear help" -f -a "show" -d 'Show the notifier'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and not __fish_seen_subcommand_from set show clear help" -f -a "clear" -d 'Remove the notifier'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and not __fish_seen_subcommand_from set show clear help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from set" -l command -d 'The command' -r
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from set" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from set" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from set" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from show" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from show" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from show" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from clear" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from clear" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from clear" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from clear" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "set" -d 'Run CMD (sh -c) with each alert raised or cleared as one JSON document on stdin'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show the notifier'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "clear" -d 'Remove the notifier'
complete -c cairn -n "__fish_cairn_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and not __fish_seen_subcommand_from set show help" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and not __fish_seen_subcommand_from set show help" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and not __fish_seen_subcommand_from set show help" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and not __fish_seen_subcommand_from set show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and not __fish_seen_subcommand_from set show help" -f -a "set" -d 'Set the schedule and retention policy (flags not given keep their value)'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and not __fish_seen_subcommand_from set show help" -f -a "show" -d 'Show the schedule'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and not __fish_seen_subcommand_from set show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from set" -l backup-every -d 'Time between backups' -r
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from set" -l verify-every -d 'Time in which every pack is verified once' -r
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from set" -l keep-within -d 'Keep backups younger than this' -r
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from set" -l keep-last -d 'Keep this many newest backups whatever their age' -r
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from set" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from set" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from set" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from show" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from show" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from show" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from show" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set the schedule and retention policy (flags not given keep their value)'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show the schedule'
complete -c cairn -n "__fish_cairn_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand serve" -l listen -d 'Also serve the management API (PRODUCT §8) on ADDR:PORT; without TLS, a loopback address only' -r
complete -c cairn -n "__fish_cairn_using_subcommand serve" -l tls-cert -d 'TLS certificate chain (PEM), with --tls-key' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand serve" -l tls-key -d 'TLS private key (PEM), with --tls-cert' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand serve" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand serve" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand serve" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "create" -d 'Create a token; it is printed once, alone on the last line of stdout, and stored only as a hash'
complete -c cairn -n "__fish_cairn_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "list" -d 'List the tokens: names, roles, creation times (never the tokens)'
complete -c cairn -n "__fish_cairn_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "revoke" -d 'Revoke a token: it stops working at once'
complete -c cairn -n "__fish_cairn_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from create" -l role -d '`admin` (may change things) or `reader` (may only read)' -r
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from create" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from create" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from create" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from list" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from list" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from list" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from list" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from revoke" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from revoke" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a token; it is printed once, alone on the last line of stdout, and stored only as a hash'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the tokens: names, roles, creation times (never the tokens)'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a token: it stops working at once'
complete -c cairn -n "__fish_cairn_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand mount" -l identity -d 'The age identity file (private key)' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand mount" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand mount" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand mount" -l foreground -d 'Stay in the foreground until unmounted (`umount MOUNTPOINT`, Ctrl-C or SIGTERM)'
complete -c cairn -n "__fish_cairn_using_subcommand mount" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand mount" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand prune" -l keep-within -d 'Keep every backup younger than this (e.g. 7d, 12h, 2w). Without --keep-within and --keep-last, the schedule\'s retention applies (default: 7d)' -r
complete -c cairn -n "__fish_cairn_using_subcommand prune" -l keep-last -d 'Keep the N newest backups, whatever their age. The newest backup is always kept' -r
complete -c cairn -n "__fish_cairn_using_subcommand prune" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand prune" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand prune" -l dry-run -d 'Only show what would be forgotten and freed; change nothing'
complete -c cairn -n "__fish_cairn_using_subcommand prune" -l json -d 'One JSON document on stdout'
complete -c cairn -n "__fish_cairn_using_subcommand prune" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand completions" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand completions" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand completions" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand doctor" -l repo -d 'The internal repository directory' -r -F
complete -c cairn -n "__fish_cairn_using_subcommand doctor" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald and log shippers). Example: cairn --log-format json serve' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line'"
complete -c cairn -n "__fish_cairn_using_subcommand doctor" -l json -d 'One JSON document on stdout: `status` and `checks`, each with `name`, `status` (ok, warning, failed), `summary` and `remedy`'
complete -c cairn -n "__fish_cairn_using_subcommand doctor" -s q -l quiet -d 'No progress bar and no informational output'
complete -c cairn -n "__fish_cairn_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "key" -d 'Keys: generate an identity, rotate or list the recipients'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "init" -d 'Create the internal repository, encrypting to these recipients'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "service" -d 'Configure the services a backup covers'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "backup" -d 'Run one coordinated full backup of all services'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "list" -d 'List the backups'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "show" -d 'Show one backup in detail'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "restore" -d 'Restore a backup (or one service, or one path) into a directory'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "verify" -d 'Check the repository: every object present and matching its name'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "target" -d 'The external location (SMB 3 share or local directory) backups are exported to'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "export" -d 'Export to the target every backup not yet there (resumes an interrupted export)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "recover" -d 'Recover the cloud from the share alone onto a fresh controller'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "jobs" -d 'Job history, newest first'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "alerts" -d 'Active alerts with their remediation (--all for the history)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "notify" -d 'The command that receives every alert raised and cleared (JSON on stdin)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "schedule" -d 'The schedule and retention policy that `cairn serve` keeps'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "serve" -d 'Run the scheduler in the foreground: backup, export, prune and verify on their schedules; with --listen, also the management API'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "token" -d 'The management API\'s tokens'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "mount" -d 'Show every backup as a read-only filesystem: MOUNTPOINT/<backup-id>/<service>/… and MOUNTPOINT/latest'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "prune" -d 'Forget backups outside the retention policy (never the newest) and reclaim the space no kept backup needs, on the internal repository and on the target'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "completions" -d 'Print the shell completion script for bash, zsh or fish'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "doctor" -d 'Check every requirement: repository, recipients, target (reachable, writable, encrypted, room for the schedule and retention), last backup, alerts, local disk, clock'
complete -c cairn -n "__fish_cairn_using_subcommand help; and not __fish_seen_subcommand_from key init service backup list show restore verify target export recover jobs alerts notify schedule serve token mount prune completions doctor help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "generate" -d 'Write a new age identity to FILE (mode 0600) and print its public recipient'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "rotate" -d 'Make new backups encrypt to these recipients (older backups keep theirs)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "list" -d 'Show the repository fingerprint and which recipients each backup was written for'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "add" -d 'Add a service: a directory (--path) or a command\'s output (--command)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "set" -d 'Change a service\'s hooks, restore command or restore order'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "list" -d 'List the services'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "remove" -d 'Remove a service (its backups stay)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from target" -f -a "set" -d 'Set the external location; checks it can write there before saving'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from target" -f -a "show" -d 'Show the target (never the password)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from target" -f -a "clear" -d 'Forget the target (nothing on it is deleted)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "set" -d 'Run CMD (sh -c) with each alert raised or cleared as one JSON document on stdin'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "show" -d 'Show the notifier'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "clear" -d 'Remove the notifier'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "set" -d 'Set the schedule and retention policy (flags not given keep their value)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "show" -d 'Show the schedule'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "create" -d 'Create a token; it is printed once, alone on the last line of stdout, and stored only as a hash'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "list" -d 'List the tokens: names, roles, creation times (never the tokens)'
complete -c cairn -n "__fish_cairn_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "revoke" -d 'Revoke a token: it stops working at once'

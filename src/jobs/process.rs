//! Is the process that wrote a record still the same, living process?
//!
//! A pid alone is not enough: pids are reused. Each record keeps the process's start time (field 22
//! of `/proc/PID/stat`, clock ticks since boot), and a process counts as alive only if a process
//! with that pid exists *and* started at that time.

/// This process's id and start time.
pub fn current() -> (u32, u64) {
    let pid = std::process::id();
    (pid, start_time(pid).unwrap_or(0))
}

/// The start time of process `pid` (clock ticks since boot), or `None` if there is no such process.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line. The command name (field 2) may hold spaces and
/// parentheses, so the fields are counted after its last `)`.
fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')' come field 3 (state) onwards; field 22 is the 20th of them.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process `pid` that started at `start` (as recorded by [`current`]) still runs.
/// A zombie counts as dead. A recorded start of 0 (unknown) trusts the pid alone.
pub fn is_alive(pid: u32, start: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    if matches!(state, Some("Z") | Some("X") | Some("x")) {
        return false;
    }
    start == 0 || parse_start_time(&stat) == Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_start_time_after_a_name_with_spaces_and_parens() {
        let line = "123 (a b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 99 100";
        assert_eq!(parse_start_time(line), Some(4242));
        assert_eq!(parse_start_time("garbage"), None);
        assert_eq!(parse_start_time("1 (x) S 2"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let (pid, start) = current();
        assert!(start > 0);
        assert!(is_alive(pid, start));
        assert!(
            !is_alive(pid, start + 1),
            "same pid, other start time: a reused pid"
        );
        assert!(!is_alive(u32::MAX - 1, 0));
    }
}

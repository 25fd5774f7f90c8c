//! Running the system tools the testbed drives (ip, ethtool, sysctl,
//! nginx, curl, ab), with errors that name the command and its stderr.

use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Runs `args[0] args[1..]` and returns its stdout; fails with the full
/// command line and stderr when it exits non-zero or cannot start.
pub fn run(args: &[&str]) -> Result<String> {
    let out = output(args)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs and returns the raw output whatever the exit status.
pub fn output(args: &[&str]) -> Result<Output> {
    let (prog, rest) = args.split_first().context("empty command")?;
    Command::new(prog)
        .args(rest)
        .output()
        .with_context(|| format!("cannot run `{prog}`: is it installed? (scripts/setup installs it)"))
}

/// Stops a child the testbed started: `signal` (e.g. "-TERM", "-INT") so
/// it can exit cleanly (nginx stops its workers, the front-end and the
/// switch print their counters), SIGKILL after `grace`, and reaps it.
pub fn stop_child(child: &mut Child, signal: &str, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = output(&["kill", signal, &child.id().to_string()]);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Fails unless every tool is on PATH, naming the missing ones.
pub fn require_tools(tools: &[&str]) -> Result<()> {
    let path = std::env::var("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !path.split(':').chain(["/usr/sbin", "/sbin"]).any(|d| std::path::Path::new(d).join(t).is_file()))
        .collect();
    if !missing.is_empty() {
        bail!("missing tools: {} (run scripts/setup)", missing.join(", "));
    }
    Ok(())
}

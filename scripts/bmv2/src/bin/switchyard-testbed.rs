//! `switchyard-testbed`: bring the namespace testbed up, run the demo on
//! it, or remove what a crashed run left behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use switchyard_testbed::{bodies, clients, netns, SwitchMode, Testbed, TestbedSpec, NS_PREFIX};

#[derive(Parser)]
#[command(version, about = "Switchyard's network-namespace testbed")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Bring the testbed up and keep it until Ctrl-C.
    Up {
        #[arg(long, default_value = "router")]
        mode: SwitchMode,
        #[arg(long, default_value_t = 3)]
        backends: usize,
        #[arg(long, default_value = "demo")]
        tag: String,
    },
    /// Bring it up, fetch every body from every backend through the switch
    /// with curl (verifying each byte), run a bounded ab load, tear down.
    Demo {
        #[arg(long, default_value = "router")]
        mode: SwitchMode,
        #[arg(long, default_value_t = 3)]
        backends: usize,
        #[arg(long, default_value = "demo")]
        tag: String,
        /// Requests for the ab run.
        #[arg(long, default_value_t = 5000)]
        ab_requests: u32,
    },
    /// Remove every namespace (and its processes) named sy-*.
    Down,
}

/// Ctrl-C / SIGTERM: remove this run's namespaces, then exit. The Testbed's
/// own Drop does the same on a normal exit or an error.
fn cleanup_on_signal(tag: &str) -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let prefix = format!("{NS_PREFIX}{tag}-");
    ctrlc::set_handler(move || {
        if s.swap(true, Ordering::SeqCst) {
            return;
        }
        eprintln!("\ninterrupted: removing {prefix}* ...");
        netns::remove_all(&prefix);
        std::process::exit(130);
    })?;
    Ok(stop)
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Up { mode, backends, tag } => {
            let _stop = cleanup_on_signal(&tag)?;
            let tb = Testbed::up(TestbedSpec::new(&tag, backends, mode))?;
            println!("testbed up ({mode:?}); namespaces:");
            for ns in tb.namespaces() {
                println!("  {}", ns.name());
            }
            println!("try: ip netns exec {} curl -si http://{}/1k | head", tb.client.name(), tb.backend_addr(0));
            println!("Ctrl-C tears it down.");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Cmd::Demo { mode, backends, tag, ab_requests } => {
            let _stop = cleanup_on_signal(&tag)?;
            demo(TestbedSpec::new(&tag, backends, mode), ab_requests)
        }
        Cmd::Down => {
            let removed = netns::remove_all(NS_PREFIX);
            if removed.is_empty() {
                println!("nothing to remove");
            } else {
                println!("removed {}", removed.join(" "));
            }
            Ok(())
        }
    }
}

fn demo(spec: TestbedSpec, ab_requests: u32) -> Result<()> {
    println!("== Switchyard testbed, switch mode {:?}, {} nginx backends", spec.mode, spec.backends);
    let tb = Testbed::up(spec)?;
    println!("namespaces: {}", tb.namespaces().iter().map(|n| n.name()).collect::<Vec<_>>().join(" "));
    println!("\n== curl from {} through the switch, every byte verified", tb.client.name());
    println!("{:<28} {:>6} {:>10} {:>8} {:>9} {}", "url", "status", "bytes", "backend", "seconds", "body");
    let mut bad = 0;
    for i in 0..tb.backends.len() {
        for (path, _) in bodies::SIZES {
            let url = format!("http://{}{}", tb.backend_addr(i), path);
            let out = tb.dir.join(format!("fetch-b{i}{}", path.replace('/', "-")));
            let f = clients::fetch(&tb.client, &url, &out, 60, &[])?;
            let ok = f.status == 200 && f.verified.is_ok() && f.backend.as_deref() == Some(&format!("b{i}"));
            bad += usize::from(!ok);
            println!(
                "{:<28} {:>6} {:>10} {:>8} {:>9.3} {}",
                f.url,
                f.status,
                f.bytes,
                f.backend.as_deref().unwrap_or("-"),
                f.seconds,
                match &f.verified { Ok(()) => "verified".to_string(), Err(e) => e.clone() }
            );
            let _ = std::fs::remove_file(&out);
        }
    }
    let url = format!("http://{}/1k", tb.backend_addr(0));
    println!("\n== ab -k -n {ab_requests} -c 16 {url}");
    let r = clients::ab(&tb.client, &url, ab_requests, 16, 30)?;
    println!("complete {}  failed {}  non-2xx {}  {:.0} requests/s", r.complete, r.failed, r.non_2xx, r.requests_per_sec);
    bad += usize::from(r.failed > 0 || r.non_2xx > 0);
    drop(tb);
    println!("\n== torn down; namespaces left: {}", netns::list(NS_PREFIX).len());
    if bad > 0 {
        anyhow::bail!("{bad} check(s) failed");
    }
    println!("all checks passed");
    Ok(())
}

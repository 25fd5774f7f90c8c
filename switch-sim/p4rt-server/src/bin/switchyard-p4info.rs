//! Writes the P4Info switch-sim's server generates for a P4 program (what
//! `p4c --p4runtime-files` writes), binary or text, for controllers that
//! push a pipeline: `switchyard-p4info p4/switchyard.p4 -o sw.p4info.bin`.

use std::path::PathBuf;

use clap::Parser;
use p4runtime_proto::prost::Message;

#[derive(Parser)]
struct Args {
    /// The P4 program.
    p4: PathBuf,
    /// Output file (binary protobuf); stdout debug text when omitted.
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// -D NAME=VALUE
    #[arg(short = 'D', value_parser = parse_define)]
    define: Vec<(String, String)>,
}

fn parse_define(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| format!("{s}: expected NAME=VALUE"))
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let prog = switchyard_switch_sim::Switch::load_program(&a.p4, &a.define)?;
    let info = switchyard_p4rt_server::p4info_gen::generate(&prog);
    match a.out {
        Some(p) => std::fs::write(p, info.encode_to_vec())?,
        None => println!("{info:#?}"),
    }
    Ok(())
}

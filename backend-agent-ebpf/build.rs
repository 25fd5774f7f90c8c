//! Compiles the TC programs in bpf/ with clang into $OUT_DIR/agent.bpf.o,
//! which src/loader.rs embeds. Fails with a clear message when clang is
//! missing, because without it there is no agent.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let obj = out.join("agent.bpf.o");
    let clang = env::var("SWITCHYARD_CLANG").unwrap_or_else(|_| "clang".into());
    // asm/types.h lives under the multiarch include dir on Debian.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    let multiarch = format!("-I/usr/include/{arch}-linux-gnu");
    for f in ["bpf/agent.c", "bpf/agent_abi.h", "bpf/baseline.c"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=SWITCHYARD_CLANG");
    compile(&clang, &multiarch, "bpf/agent.c", &obj);
    // An empty program: the benchmark subtracts its cost.
    compile(&clang, &multiarch, "bpf/baseline.c", &out.join("baseline.bpf.o"));
}

fn compile(clang: &str, multiarch: &str, src: &str, obj: &PathBuf) {
    let status = Command::new(clang)
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3", "-Wall", "-Werror"])
        .arg(multiarch)
        .args(["-c", src, "-o"])
        .arg(obj)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("clang failed to compile {src} ({s}); see its output above"),
        Err(e) => panic!(
            "cannot run `{clang}` ({e}): the backend agent's eBPF program needs clang \
             (Debian: apt-get install clang llvm libbpf-dev), or set SWITCHYARD_CLANG"
        ),
    }
}

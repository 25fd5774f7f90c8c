//! Compiles the P4Runtime .proto files with protox (pure Rust, no `protoc` on any machine) and
//! generates prost messages and the tonic client/server. The FileDescriptorSet is also written
//! to OUT_DIR so the crate can expose it (conformance test, gRPC reflection).

use std::path::PathBuf;

/// The files of the P4Runtime v1 API; their imports (p4data, p4types, google.rpc) are pulled in
/// by protox.
const ROOTS: &[&str] = &[
    "p4/v1/p4runtime.proto",
    "p4/config/v1/p4info.proto",
    "google/rpc/code.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let fds = protox::compile(ROOTS, ["proto"])?;
    std::fs::write(
        out_dir.join("p4runtime_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}

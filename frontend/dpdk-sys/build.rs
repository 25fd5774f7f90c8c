//! Finds DPDK through pkg-config, compiles the shim, generates bindings.
//!
//! pkg-config's Rust crate drops the `-include rte_config.h -march=corei7`
//! flags DPDK's headers need, so we run the pkg-config program and pass
//! its compile flags through unchanged. Linking is shared (static fails
//! with Debian's build); EAL loads the PMDs (net_af_packet, mempool_ring)
//! from its plugin directory at run time.

use std::path::PathBuf;
use std::process::Command;

fn pkg_config(args: &[&str]) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libdpdk")
        .output()
        .unwrap_or_else(|e| panic!("dpdk-sys: cannot run pkg-config ({e}); install pkg-config and libdpdk-dev (scripts/setup)"));
    if !out.status.success() {
        panic!(
            "dpdk-sys: pkg-config does not know libdpdk: {}; install libdpdk-dev (scripts/setup)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).unwrap().split_whitespace().map(str::to_string).collect()
}

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-changed=src/shim.h");
    let cflags = pkg_config(&["--cflags"]);
    let libs = pkg_config(&["--libs"]);

    let mut build = cc::Build::new();
    build.file("src/shim.c").warnings(false);
    for f in &cflags {
        build.flag(f);
    }
    build.compile("sy_dpdk_shim");

    // link-lib (not link-arg, which would stop at this crate) so every
    // binary depending on us links DPDK's shared libraries.
    for l in &libs {
        if let Some(lib) = l.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        } else if let Some(dir) = l.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        }
    }

    let bindings = bindgen::Builder::default()
        .header("src/shim.h")
        .clang_args(cflags.iter().filter(|f| f.starts_with("-I") || f.starts_with("-D") || *f == "-include" || f.ends_with(".h") || f.starts_with("-march")))
        .allowlist_function("sy_.*")
        .allowlist_function("rte_eal_(init|cleanup|process_type)")
        .allowlist_function("rte_strerror")
        .allowlist_function("rte_socket_id")
        .allowlist_function("rte_pktmbuf_pool_create")
        .allowlist_function("rte_mempool_(free|avail_count|in_use_count)")
        .allowlist_function("rte_eth_(dev_count_avail|dev_get_port_by_name|dev_info_get|dev_configure|rx_queue_setup|tx_queue_setup|dev_start|dev_stop|dev_close|promiscuous_enable|macaddr_get|stats_get|link_get_nowait|dev_socket_id)")
        .allowlist_type("rte_eth_(conf|dev_info|stats|link|rxconf|txconf)|rte_ether_addr")
        .allowlist_var("RTE_MBUF_DEFAULT_BUF_SIZE|RTE_PKTMBUF_HEADROOM|RTE_MAX_ETHPORTS|RTE_ETH_NAME_MAX_LEN")
        .opaque_type("rte_mbuf")
        .opaque_type("rte_mempool")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .expect("dpdk-sys: bindgen failed on DPDK headers (is libclang-dev installed?)");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings.write_to_file(out).unwrap();
}

//! The testbed's P4Runtime channel is mutual TLS (issue 10, point 5): a CA
//! of the run's own, the switch admitting only its certificates. From the
//! front-end namespace (the only one on the management link):
//! `switchyard-ctl` with the testbed's `ctl` certificate reads the switch's
//! counters; plain gRPC, a client certificate of another CA (made with
//! `switchyard-ctl gen-certs`) and a client trusting another CA are
//! refused; the front-end comes up, which it does only after programming
//! its services over that channel with its own certificate.

use std::os::unix::fs::PermissionsExt;

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, find_bin, SwitchMode, Testbed, TestbedSpec};

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK"]
fn the_testbeds_p4runtime_admits_only_its_own_certificates() {
    let tag = "tls1";
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 1, SwitchMode::Sim)).unwrap();
        let tls = tb.tls.clone().expect("sim mode runs P4Runtime over mutual TLS");
        let log = std::fs::read_to_string(tb.dir.join("switch.log")).unwrap();
        assert!(log.contains("mutual TLS"), "{log}");
        let (_, ctl) = tls.clients.iter().find(|(n, _)| n == "ctl").unwrap();
        for f in [&tls.switch.ca, &tls.switch.cert, &tls.switch.key, &ctl.cert, &ctl.key] {
            assert_eq!(std::fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600, "{}", f.display());
        }

        // The testbed's own certificate: the counters.
        let counters = lb::ctl(&tb, &["counters", "--plain"]).unwrap();
        assert!(counters.lines().any(|l| l.starts_with("path.")), "{counters}");

        let bin = find_bin("switchyard-ctl").unwrap();
        let bin = bin.to_str().unwrap();
        let sw = format!("{}:{}", addr::MGMT_SWITCH, addr::P4RUNTIME_PORT);
        let refused = |what: &str, extra: &[&str]| {
            let mut argv = vec![bin, "--switch", &sw];
            argv.extend_from_slice(extra);
            argv.push("counters");
            let out = tb.frontend.output(&argv).unwrap();
            assert!(!out.status.success(), "{what}: read the counters: {}", String::from_utf8_lossy(&out.stdout));
        };
        refused("plain gRPC", &["--insecure"]);
        let other = tb.dir.join("other-ca");
        tb.frontend.exec(&[bin, "gen-certs", other.to_str().unwrap(), "--switch-name", &addr::MGMT_SWITCH.to_string()]).unwrap();
        let o = |f: &str| other.join(f).to_string_lossy().into_owned();
        let ours = |p: &std::path::Path| p.to_string_lossy().into_owned();
        refused("another CA's client", &["--tls-ca", &ours(&ctl.ca), "--tls-cert", &o("ctl.pem"), "--tls-key", &o("ctl.key")]);
        refused("trusting another CA", &["--tls-ca", &o("ca.pem"), "--tls-cert", &ours(&ctl.cert), "--tls-key", &ours(&ctl.key)]);

        // The front-end programs its services over the channel before it says it is up.
        let (path, _) = example_config();
        let fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        let log = fe.stop();
        assert!(log.contains("over mutual TLS") && log.contains("backends programmed"), "{log}");
    }
    assert_no_namespaces(tag);
}

//! Plain routing through the switch namespace in `router` mode (the kernel
//! forwards): every body from every backend, verified byte for byte, then
//! a short ab load. (In the P4 modes a client cannot reach a backend
//! directly: the edge guards drop it, tests/e2e/bypass.rs; every body
//! through the P4 program and the VIP is tests/e2e/routing.rs.)

use switchyard_e2e::assert_no_namespaces;
use switchyard_testbed::{bodies, clients, SwitchMode, Testbed, TestbedSpec};

fn serves_every_body_and_cleans_up(tag: &str, mode: SwitchMode) {
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 3, mode)).unwrap();
        assert_eq!(tb.namespaces().len(), 6);
        for i in 0..3 {
            for (path, len) in bodies::SIZES {
                let url = format!("http://{}{}", tb.backend_addr(i), path);
                let out = tb.dir.join("body");
                let f = clients::fetch(&tb.client, &url, &out, 60, &[]).unwrap();
                assert_eq!(f.status, 200, "{url}");
                assert_eq!(f.bytes, *len, "{url}");
                assert_eq!(f.verified, Ok(()), "{url}");
                assert_eq!(f.backend.as_deref(), Some(format!("b{i}").as_str()), "{url}");
            }
        }
        // A path nginx does not have: the header still names the backend.
        let f = clients::fetch(&tb.client, &format!("http://{}/nope", tb.backend_addr(1)), &tb.dir.join("nope"), 10, &[]).unwrap();
        assert_eq!((f.status, f.backend.as_deref()), (404, Some("b1")));

        let r = clients::ab(&tb.client, &format!("http://{}/10k", tb.backend_addr(2)), 2000, 8, 20).unwrap();
        assert_eq!(r.complete, 2000);
        assert_eq!((r.failed, r.non_2xx), (0, 0));
        assert!(r.requests_per_sec > 0.0);
    }
    assert_no_namespaces(tag);
}

#[test]
#[ignore = "needs root: network namespaces"]
fn router_mode_serves_every_body_and_cleans_up() {
    serves_every_body_and_cleans_up("rt1", SwitchMode::Router);
}

#[test]
#[ignore = "needs root: network namespaces"]
fn failed_bring_up_leaves_nothing() {
    let tag = "rt2";
    // A namespace squatting on one of our names makes `up` fail midway;
    // everything it created before must be gone afterwards.
    let squat = switchyard_testbed::Netns::create(&format!("sy-{tag}-fe")).unwrap();
    let err = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Router)).err().unwrap();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(switchyard_testbed::netns::list(&format!("sy-{tag}-")), vec![format!("sy-{tag}-fe")]);
    drop(squat);
    assert_no_namespaces(tag);
}

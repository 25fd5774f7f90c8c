use std::path::Path;

#[test]
fn loads_switchyard_p4() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../p4/switchyard.p4");
    match switchyard_switch_sim::Switch::load(&p, &[]) {
        Ok(sw) => {
            let names: Vec<_> = sw.program().tables.iter().map(|t| t.name.clone()).collect();
            println!("{names:?}");
        }
        Err(e) => panic!("{e}"),
    }
}

//! Switchyard's benchmark (docs/BENCHMARKS.md): `switchyard-loadgen`, a
//! verifying HTTP/1.1 load generator, and `switchyard-bench`, which runs
//! Switchyard, nginx and HAProxy side by side on the namespace testbed and
//! writes results, plots and tables.

pub mod loadgen;
pub mod measure;
pub mod plot;
pub mod report;
pub mod workload;

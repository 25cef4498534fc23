//! End-to-end tests of the `vecsim` command line: one test binary, one module per area.

mod bench_learners;
mod bounds;
mod cli;
mod cluster;
mod common;
mod determinism;
mod examples;
mod experiment;
mod faults;
mod in_turn;
mod limits;
mod live;
mod monitoring;
mod outputs;
mod pool_learners;
mod presets;
mod pretrain;
mod python;
mod sweep;
mod train;
mod unix;

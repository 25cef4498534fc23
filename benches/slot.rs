//! Slot evaluation throughput: decisions, migration, allocation, execution and scoring of one
//! slot with 1,000 and 10,000 covered vehicles (one task each), for `orl` and `orm` with the
//! `kkt` allocator. Reports tasks per second (criterion's element throughput).
//!
//! Target (issue 2): at least 1,000,000 tasks/s on one core for `orl` with `kkt`.
//! With `CI` set the measurement time is shrunk so the bench still runs quickly.

// `criterion_group!` defines a public, undocumented function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use std::time::Duration;
use vecsim_core::allocation::AllocatorKind;
use vecsim_core::geometry::Point;
use vecsim_core::ids::{RsuId, TaskId};
use vecsim_core::policy::{Baseline, Candidate, Observation, Policy};
use vecsim_core::scenario::RsuSpec;
use vecsim_core::slot::{score, SlotProblem};
use vecsim_core::task::{Task, UploadedTask};
use vecsim_core::wired::WiredLink;

struct Slot {
    rsus: Vec<RsuSpec>,
    uploads: Vec<Vec<UploadedTask>>,
    free: Vec<f64>,
    avail: Vec<bool>,
}

/// `vehicles` covered vehicles spread over `rsus` RSUs along a road, one task each.
fn slot(vehicles: u32, rsus: u32) -> Slot {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let specs: Vec<RsuSpec> = (0..rsus)
        .map(|i| RsuSpec {
            id: RsuId(i),
            pos: Point::new(375.0 * i as f64, 0.0),
            cpu_hz: rng.gen_range(3e9..10e9),
            bandwidth_bps: 450e6,
            range_m: 500.0,
        })
        .collect();
    let mut uploads = vec![Vec::new(); rsus as usize];
    for v in 0..vehicles {
        let e = rng.gen_range(0..rsus);
        let d = rng.gen_range(1e6..5e6);
        uploads[e as usize].push(UploadedTask {
            task: Task {
                id: TaskId { slot: 0, vehicle: v },
                data_bits: d,
                cycles_per_bit: rng.gen_range(100.0..300.0),
                deadline_s: rng.gen_range(0.2..1.0),
            },
            uploader: RsuId(e),
            distance_m: rng.gen_range(0.0..500.0),
            upload_s: d / 450e6,
            upload_extra_s: 0.0,
        });
    }
    let free = specs.iter().map(|r| r.cpu_hz).collect();
    Slot { avail: vec![true; rsus as usize], rsus: specs, uploads, free }
}

/// One slot: every RSU's policy decides, then the slot is evaluated and scored.
fn evaluate(s: &Slot, policies: &mut [Box<dyn Policy>]) -> f64 {
    let cands: Vec<Vec<Candidate>> = (0..s.rsus.len())
        .map(|e| {
            s.rsus
                .iter()
                .map(|r| Candidate {
                    rsu: r.id,
                    distance_m: s.rsus[e].pos.distance(r.pos),
                    free_cpu_hz: r.cpu_hz,
                    uploaded_load: s.uploads[r.id.index()].iter().map(|u| u.task.work_cycles().sqrt()).sum(),
                    uploaded_tasks: s.uploads[r.id.index()].len() as u32,
                    available: true,
                    declared: Default::default(),
                })
                .collect()
        })
        .collect();
    let decisions: Vec<Vec<RsuId>> = policies
        .iter_mut()
        .enumerate()
        .map(|(e, p)| {
            p.decide(&Observation {
                rsu: RsuId(e as u32),
                slot: 0,
                slot_s: 1.0,
                tasks: &s.uploads[e],
                candidates: &cands[e],
                wired: WiredLink::default(),
                allocator: AllocatorKind::Kkt,
            })
        })
        .collect();
    let problem = SlotProblem {
        rsus: &s.rsus,
        free_cpu_hz: &s.free,
        available: &s.avail,
        wired: WiredLink::default(),
        allocator: AllocatorKind::Kkt,
        uploads: &s.uploads,
    };
    score(&problem.evaluate(&decisions), s.rsus.len()).potential
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("slot");
    if std::env::var_os("CI").is_some() {
        g.measurement_time(Duration::from_millis(500)).warm_up_time(Duration::from_millis(200)).sample_size(10);
    }
    for (vehicles, rsus) in [(1_000u32, 8u32), (10_000, 64)] {
        let s = slot(vehicles, rsus);
        g.throughput(Throughput::Elements(vehicles as u64));
        for policy in [Baseline::Orl, Baseline::Orm] {
            let mut ps: Vec<Box<dyn Policy>> = (0..rsus).map(|e| policy.build(RsuId(e), 1)).collect();
            g.bench_with_input(BenchmarkId::new(format!("{}-kkt", policy.name()), vehicles), &s, |b, s| {
                b.iter(|| black_box(evaluate(s, &mut ps)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

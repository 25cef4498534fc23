//! RSUs that decide in turn (`vecsim_core::policy::intent`, beyond the paper) on the actor
//! engine: the turns happen only when a policy asks for them, cost one `DecideInTurn` and one
//! `Declared` per RSU and slot, and every RSU decides from exactly the candidate table the
//! sequential engine builds: the declarations of the RSUs before it, and nothing else.

use std::sync::{Arc, Mutex};
use vecsim_actors::{run_actors, ActorOptions};
use vecsim_core::engine::SequentialRun;
use vecsim_core::ids::RsuId;
use vecsim_core::observer::NoObserver;
use vecsim_core::policy::intent::{self, Declared, Intent};
use vecsim_core::policy::{Candidate, Observation, Orm, Policy, PolicySet};
use vecsim_core::task::UploadedTask;
use vecsim_core::Scenario;

const SLOTS: u32 = 10;

fn scenario() -> Arc<Scenario> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/paper-evening.toml");
    let mut s = Scenario::load(&path).unwrap();
    s.time.slots = SLOTS;
    Arc::new(s)
}

/// What one RSU was shown and decided in one slot.
#[derive(Clone, Debug, PartialEq)]
struct Decision {
    slot: u32,
    rsu: u32,
    table: Vec<Candidate>,
    tasks: Vec<UploadedTask>,
    decisions: Vec<RsuId>,
}

type Seen = Arc<Mutex<Vec<Decision>>>;

/// `orm`, noting every decision.
struct Noting {
    in_turn: bool,
    seen: Seen,
}

impl Policy for Noting {
    fn name(&self) -> &'static str {
        "orm"
    }
    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        let decisions = Orm.decide(obs);
        self.seen.lock().unwrap().push(Decision {
            slot: obs.slot,
            rsu: obs.rsu.0,
            table: obs.candidates.to_vec(),
            tasks: obs.tasks.to_vec(),
            decisions: decisions.clone(),
        });
        decisions
    }
    fn decides_in_turn(&self) -> bool {
        self.in_turn
    }
}

fn policies(n: usize, in_turn: bool, seen: &Seen) -> PolicySet {
    PolicySet::new((0..n).map(|_| Box::new(Noting { in_turn, seen: seen.clone() }) as Box<dyn Policy>).collect())
}

fn sorted(seen: &Seen) -> Vec<Decision> {
    let mut v = seen.lock().unwrap().clone();
    v.sort_by_key(|d| (d.slot, d.rsu));
    v
}

#[test]
fn rsus_in_turn_see_the_declarations_before_them_on_both_engines_for_two_messages_each() {
    let s = scenario();
    let n = s.rsu_count();
    let mut runs = Vec::new();
    for in_turn in [false, true] {
        let seen: Seen = Arc::default();
        let fleet = vecsim_core::mobility::load(&s, None).unwrap();
        let opts = ActorOptions { threads: 2, ..Default::default() };
        let run = run_actors(s.clone(), fleet, policies(n, in_turn, &seen), &opts, &mut NoObserver).unwrap();
        let actors = sorted(&seen);
        let seq_seen: Seen = Arc::default();
        let fleet = vecsim_core::mobility::load(&s, None).unwrap();
        let (stats, _) = SequentialRun::new(s.clone(), fleet, policies(n, in_turn, &seq_seen)).unwrap().run().unwrap();
        assert_eq!(actors, sorted(&seq_seen), "in turn {in_turn}: the engines showed different tables");
        assert_eq!(run.stats.summary(), stats.summary(), "in turn {in_turn}");
        runs.push((run.messages, actors));
    }
    let (off, on) = (&runs[0], &runs[1]);
    assert_eq!(on.0, off.0 + 2 * n as u64 * u64::from(SLOTS), "DecideInTurn and Declared, once per RSU and slot");
    assert!(off.1.iter().all(|d| d.table.iter().all(|c| c.declared == Declared::default())), "declared off turn");
    // In turn: RSU e's table declares exactly what RSUs 0..e decided in the same slot, worked
    // out here from their recorded decisions (an RSU without uploads declares nothing).
    let mut shown = 0;
    for d in &on.1 {
        let before: Vec<Intent> = (0..d.rsu)
            .map(|i| {
                on.1.iter()
                    .find(|o| o.slot == d.slot && o.rsu == i)
                    .map_or_else(Intent::default, |o| Intent::of(RsuId(i), &o.tasks, &o.decisions))
            })
            .collect();
        let want = intent::declared(n, RsuId(d.rsu), &before);
        let got: Vec<Declared> = d.table.iter().map(|c| c.declared).collect();
        assert_eq!(got, want, "slot {} RSU {}", d.slot, d.rsu);
        shown += usize::from(want.iter().any(|w| *w != Declared::default()));
    }
    assert!(shown > 0, "no RSU was shown a declaration");
}

//! RSUs that decide in turn (`vecsim_core::policy::intent`, beyond the paper) on the actor
//! engine: the turns happen only when a policy asks for them, cost one `DecideInTurn` and one
//! `Declared` per RSU, slot and round, and every RSU decides from exactly the candidate table
//! the sequential engine builds: the declarations of the RSUs before it in this round, of those
//! after it in the round before, and nothing else.

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
    rounds: u32,
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
    fn turn_rounds(&self) -> u32 {
        self.rounds
    }
}

fn policies(n: usize, in_turn: bool, rounds: u32, seen: &Seen) -> PolicySet {
    PolicySet::new(
        (0..n).map(|_| Box::new(Noting { in_turn, rounds, seen: seen.clone() }) as Box<dyn Policy>).collect(),
    )
}

/// By slot and RSU; an RSU's rounds stay in the order it decided them.
fn sorted(seen: &Seen) -> Vec<Decision> {
    let mut v = seen.lock().unwrap().clone();
    v.sort_by_key(|d| (d.slot, d.rsu));
    v
}

#[test]
fn rsus_in_turn_see_the_declarations_of_the_others_on_both_engines_for_two_messages_each() {
    let s = scenario();
    let n = s.rsu_count();
    let mut runs = Vec::new();
    for (in_turn, rounds) in [(false, 1), (true, 1), (true, 2)] {
        let seen: Seen = Arc::default();
        let fleet = vecsim_core::mobility::load(&s, None).unwrap();
        let opts = ActorOptions { threads: 2, ..Default::default() };
        let run = run_actors(s.clone(), fleet, policies(n, in_turn, rounds, &seen), &opts, &mut NoObserver).unwrap();
        let actors = sorted(&seen);
        let seq_seen: Seen = Arc::default();
        let fleet = vecsim_core::mobility::load(&s, None).unwrap();
        let (stats, _) =
            SequentialRun::new(s.clone(), fleet, policies(n, in_turn, rounds, &seq_seen)).unwrap().run().unwrap();
        assert_eq!(
            actors,
            sorted(&seq_seen),
            "in turn {in_turn}, {rounds} round(s): the engines showed different tables"
        );
        assert_eq!(run.stats.summary(), stats.summary(), "in turn {in_turn}, {rounds} round(s)");
        runs.push((run.messages, actors, rounds));
    }
    let off = &runs[0];
    assert!(off.1.iter().all(|d| d.table.iter().all(|c| c.declared == Declared::default())), "declared off turn");
    for on in &runs[1..] {
        let rounds = on.2;
        assert_eq!(
            on.0,
            off.0 + 2 * u64::from(rounds) * n as u64 * u64::from(SLOTS),
            "DecideInTurn and Declared, once per RSU, slot and round"
        );
        // RSU e's table in round r declares exactly what the others decided last before its
        // turn: RSUs 0..e in round r, RSUs after e in round r - 1 (nothing in the first round),
        // worked out here from their recorded decisions (an RSU without uploads declares
        // nothing, and is never asked to decide).
        let of = |slot: u32, rsu: u32, round: usize| -> Intent {
            on.1.iter()
                .filter(|o| o.slot == slot && o.rsu == rsu)
                .nth(round)
                .map_or_else(Intent::default, |o| Intent::of(RsuId(rsu), &o.tasks, &o.decisions))
        };
        let mut shown = [0usize; 2];
        let mut seen_rounds = 0;
        for d in &on.1 {
            let r =
                on.1.iter().filter(|o| o.slot == d.slot && o.rsu == d.rsu).position(|o| std::ptr::eq(o, d)).unwrap();
            seen_rounds = seen_rounds.max(r + 1);
            let intents: Vec<Intent> = (0..n as u32)
                .map(|i| match i.cmp(&d.rsu) {
                    std::cmp::Ordering::Less => of(d.slot, i, r),
                    std::cmp::Ordering::Equal => Intent::default(),
                    std::cmp::Ordering::Greater if r > 0 => of(d.slot, i, r - 1),
                    std::cmp::Ordering::Greater => Intent::default(),
                })
                .collect();
            let want = intent::declared(n, RsuId(d.rsu), &intents);
            let got: Vec<Declared> = d.table.iter().map(|c| c.declared).collect();
            assert_eq!(got, want, "{rounds} round(s): slot {} RSU {} round {r}", d.slot, d.rsu);
            shown[r.min(1)] += usize::from(want.iter().any(|w| *w != Declared::default()));
        }
        assert_eq!(seen_rounds, rounds as usize, "every RSU with uploads decides once per round");
        assert!(shown[0] > 0, "no RSU was shown a declaration");
        if rounds > 1 {
            // RSU 0 sees declarations only from the second round on.
            assert!(on.1.iter().any(|d| d.rsu == 0 && d.table.iter().any(|c| c.declared != Declared::default())));
        }
    }
}

//! The floor of the runtime: bare ractor actors with empty handlers exchanging a given number
//! of messages per slot, driven by a counting clock, as the actor engine's phases are.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::time::{Duration, Instant};

struct Bare;

enum BareMsg {
    Tick(ActorRef<FloorMsg>, u32),
}

impl Actor for Bare {
    type Msg = BareMsg;
    type State = ();
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<BareMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
    async fn handle(&self, _: ActorRef<BareMsg>, m: BareMsg, _: &mut ()) -> Result<(), ActorProcessingErr> {
        let BareMsg::Tick(clock, acks) = m;
        for _ in 0..acks {
            let _ = clock.send_message(FloorMsg::Ack);
        }
        Ok(())
    }
}

enum FloorMsg {
    Start,
    Ack,
}

// Explicit, as for the engine's messages (ractor's `cluster` feature; see `crate::protocol`).
impl ractor::Message for BareMsg {}
impl ractor::Message for FloorMsg {}

struct FloorClock;

struct FloorArgs {
    actors: Vec<ActorRef<BareMsg>>,
    acks: Vec<u32>,
    per_slot: u64,
    slots: u32,
    done: tokio::sync::oneshot::Sender<Instant>,
}

struct FloorState {
    me: ActorRef<FloorMsg>,
    a: FloorArgs,
    pending: u64,
    slot: u32,
    done: Option<tokio::sync::oneshot::Sender<Instant>>,
}

impl FloorState {
    fn tick(&mut self) {
        self.pending = self.a.per_slot;
        for (a, &k) in self.a.actors.iter().zip(&self.a.acks) {
            let _ = a.send_message(BareMsg::Tick(self.me.clone(), k));
        }
    }
}

impl Actor for FloorClock {
    type Msg = FloorMsg;
    type State = FloorState;
    type Arguments = FloorArgs;
    async fn pre_start(&self, me: ActorRef<FloorMsg>, mut a: FloorArgs) -> Result<FloorState, ActorProcessingErr> {
        let (tx, _) = tokio::sync::oneshot::channel();
        let done = std::mem::replace(&mut a.done, tx);
        Ok(FloorState { me, a, pending: 0, slot: 0, done: Some(done) })
    }
    async fn handle(&self, me: ActorRef<FloorMsg>, m: FloorMsg, s: &mut FloorState) -> Result<(), ActorProcessingErr> {
        match m {
            FloorMsg::Start => s.tick(),
            FloorMsg::Ack => {
                s.pending -= 1;
                if s.pending == 0 {
                    s.slot += 1;
                    if s.slot >= s.a.slots {
                        if let Some(d) = s.done.take() {
                            let _ = d.send(Instant::now());
                        }
                        for a in &s.a.actors {
                            a.stop(None);
                        }
                        me.stop(None);
                    } else {
                        s.tick();
                    }
                }
            }
        }
        Ok(())
    }
}

/// Runs `actors` bare actors for `slots` slots, with `messages_per_slot` messages per slot in
/// all: one tick from the clock to each actor, the rest as acks back to the clock, spread
/// evenly (at least one ack per actor). Returns the wall time of the slots (spawning excluded).
pub async fn floor(actors: usize, messages_per_slot: u64, slots: u32) -> Duration {
    let actors = actors.max(1);
    let acks_total = messages_per_slot.saturating_sub(actors as u64).max(actors as u64);
    let base = (acks_total / actors as u64) as u32;
    let extra = (acks_total % actors as u64) as usize;
    let acks: Vec<u32> = (0..actors).map(|i| base + u32::from(i < extra)).collect();
    let mut refs = Vec::with_capacity(actors);
    for _ in 0..actors {
        refs.push(Actor::spawn(None, Bare, ()).await.expect("spawn bare actor").0);
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let args = FloorArgs { actors: refs, acks, per_slot: acks_total, slots: slots.max(1), done: done_tx };
    let (clock, handle) = Actor::spawn(None, FloorClock, args).await.expect("spawn floor clock");
    let start = Instant::now();
    clock.send_message(FloorMsg::Start).expect("floor clock runs");
    let end = done_rx.await.expect("floor finishes");
    let _ = handle.await;
    end - start
}

//! The VEC POOL actor: federated rounds of collect → average → broadcast.
//!
//! A round is opened by a coordinator with a fixed set of participants. Each participant
//! answers exactly once, with its parameters ([`PoolMsg::Contribute`], codec-encoded `Vec<f32>`)
//! or with [`PoolMsg::Skip`] (its own seeded fault draw, `FaultPlan::pool`, said it misses the
//! round or its message is lost). The pool closes the round when every participant has
//! answered — it never waits on wall-clock time — averages what arrived with
//! [`vecsim_core::fedavg::fed_avg`] (element-wise mean, weighted by each contribution's
//! weight: its sample count or 1; weights of 0 everywhere mean an unweighted mean, exactly as
//! the learners' in-process round), broadcasts the average to every member and answers the
//! coordinator with a [`RoundOutcome`]. Contributions are averaged in participant-id order, so
//! the float sums do not depend on arrival order and equal the in-process round's bit for bit.
//! Parameter vectors travel encoded by [`vecsim_core::codec`]. Answers for another round, or from a
//! non-participant, are errors of the protocol and fail the pool actor (its supervisor sees it).

use crate::protocol::{PoolGlobal, PoolMsg, RoundOutcome};
use ractor::{Actor, ActorProcessingErr, ActorRef, DerivedActorRef, RpcReplyPort};
use std::collections::BTreeMap;
use std::sync::Arc;
use vecsim_core::codec::{decode_params, encode_params};
use vecsim_core::fedavg;

/// The VEC POOL actor.
pub struct VecPool;

struct OpenRound {
    round: u64,
    participants: Vec<u32>,
    members: Vec<DerivedActorRef<PoolGlobal>>,
    reply: RpcReplyPort<RoundOutcome>,
    /// participant → (weight, latency, params); `None` = skipped.
    answers: BTreeMap<u32, Option<(f64, f64, Vec<f32>)>>,
}

/// The pool's state: the round in progress, if any, and the last global model.
#[derive(Default)]
pub struct PoolState {
    open: Option<OpenRound>,
    /// Answers that arrived before their round was opened (participants may be told by the
    /// coordinator before the pool is), keyed by round.
    early: Vec<PoolMsg>,
    /// The last average broadcast (codec-encoded), if any round produced one.
    pub last_global: Option<Arc<Vec<u8>>>,
    /// Rounds closed so far.
    pub rounds: u64,
}

impl VecPool {
    fn answer(state: &mut PoolState, msg: PoolMsg) -> Result<(), ActorProcessingErr> {
        let open = state.open.as_mut().expect("checked by the caller");
        let (round, from, answer) = match msg {
            PoolMsg::Contribute { round, from, weight, extra_latency_s, bytes } => {
                (round, from, Some((weight, extra_latency_s, decode_params(&bytes)?)))
            }
            PoolMsg::Skip { round, from } => (round, from, None),
            PoolMsg::Open { .. } => unreachable!(),
        };
        if round != open.round {
            return Err(format!("answer for round {round} while round {} is open", open.round).into());
        }
        if open.participants.binary_search(&from).is_err() {
            return Err(format!("RSU {from} is not a participant of round {round}").into());
        }
        if open.answers.insert(from, answer).is_some() {
            return Err(format!("RSU {from} answered round {round} twice").into());
        }
        Ok(())
    }

    fn try_close(state: &mut PoolState) -> Result<(), ActorProcessingErr> {
        let done = state.open.as_ref().is_some_and(|o| o.answers.len() == o.participants.len());
        if !done {
            return Ok(());
        }
        let open = state.open.take().expect("open");
        let mut contributed = Vec::new();
        let mut skipped = Vec::new();
        let mut items: Vec<(f64, &[f32])> = Vec::new();
        let mut latency_s = 0.0f64;
        for (&id, a) in &open.answers {
            match a {
                Some((w, lat, p)) => {
                    contributed.push(id);
                    items.push((*w, p));
                    latency_s = latency_s.max(*lat);
                }
                None => skipped.push(id),
            }
        }
        let global = fedavg::average(&items)?.map(|v| Arc::new(encode_params(&v)));
        if let Some(g) = &global {
            for m in &open.members {
                // A member that has stopped simply misses the broadcast.
                let _ = m.send_message(PoolGlobal { round: open.round, bytes: g.clone() });
            }
            state.last_global = Some(g.clone());
        }
        state.rounds += 1;
        let _ = open.reply.send(RoundOutcome { round: open.round, contributed, skipped, global, latency_s });
        Ok(())
    }
}

impl Actor for VecPool {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<PoolMsg>, _: ()) -> Result<PoolState, ActorProcessingErr> {
        Ok(PoolState::default())
    }

    async fn handle(
        &self,
        _me: ActorRef<PoolMsg>,
        msg: PoolMsg,
        state: &mut PoolState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PoolMsg::Open { round, mut participants, members, reply } => {
                if state.open.is_some() {
                    return Err(format!("round {round} opened while another round is open").into());
                }
                participants.sort_unstable();
                participants.dedup();
                state.open = Some(OpenRound { round, participants, members, reply, answers: BTreeMap::new() });
                for m in std::mem::take(&mut state.early) {
                    Self::answer(state, m)?;
                }
                Self::try_close(state)
            }
            m @ (PoolMsg::Contribute { .. } | PoolMsg::Skip { .. }) => {
                if state.open.is_none() {
                    state.early.push(m);
                    return Ok(());
                }
                Self::answer(state, m)?;
                Self::try_close(state)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member that forwards the broadcast it receives.
    struct Member;
    impl Actor for Member {
        type Msg = PoolGlobal;
        type State = tokio::sync::mpsc::UnboundedSender<PoolGlobal>;
        type Arguments = tokio::sync::mpsc::UnboundedSender<PoolGlobal>;
        async fn pre_start(
            &self,
            _: ActorRef<PoolGlobal>,
            tx: Self::Arguments,
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok(tx)
        }
        async fn handle(
            &self,
            _: ActorRef<PoolGlobal>,
            g: PoolGlobal,
            tx: &mut Self::State,
        ) -> Result<(), ActorProcessingErr> {
            let _ = tx.send(g);
            Ok(())
        }
    }

    #[test]
    fn a_round_collects_averages_and_broadcasts_tolerating_skips() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let (pool, h) = Actor::spawn(None, VecPool, ()).await.unwrap();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let (m, mh) = Actor::spawn(None, Member, tx).await.unwrap();
            // Answers may arrive before the round is opened, and in any order.
            pool.send_message(PoolMsg::Contribute {
                round: 0,
                from: 2,
                weight: 3.0,
                extra_latency_s: 0.5,
                bytes: encode_params(&[3.0, 6.0]),
            })
            .unwrap();
            let (otx, orx) = ractor::concurrency::oneshot();
            pool.send_message(PoolMsg::Open {
                round: 0,
                participants: vec![2, 0, 1],
                members: vec![m.get_derived()],
                reply: otx.into(),
            })
            .unwrap();
            pool.send_message(PoolMsg::Skip { round: 0, from: 1 }).unwrap();
            pool.send_message(PoolMsg::Contribute {
                round: 0,
                from: 0,
                weight: 1.0,
                extra_latency_s: 0.1,
                bytes: encode_params(&[1.0, 2.0]),
            })
            .unwrap();
            let o = orx.await.unwrap();
            assert_eq!(o.contributed, vec![0, 2]);
            assert_eq!(o.skipped, vec![1]);
            assert_eq!(o.latency_s, 0.5);
            assert_eq!(decode_params(o.global.as_ref().unwrap()).unwrap(), vec![2.5, 5.0]);
            let g = rx.recv().await.unwrap();
            assert_eq!(g.round, 0);
            assert_eq!(decode_params(&g.bytes).unwrap(), vec![2.5, 5.0]);

            // A round where everyone skips: no average, nothing broadcast, old model stands.
            let (otx, orx) = ractor::concurrency::oneshot();
            pool.send_message(PoolMsg::Open {
                round: 1,
                participants: vec![0, 1],
                members: vec![m.get_derived()],
                reply: otx.into(),
            })
            .unwrap();
            pool.send_message(PoolMsg::Skip { round: 1, from: 0 }).unwrap();
            pool.send_message(PoolMsg::Skip { round: 1, from: 1 }).unwrap();
            let o = orx.await.unwrap();
            assert_eq!((o.contributed.len(), o.skipped.len(), o.global.is_none()), (0, 2, true));
            pool.stop(None);
            m.stop(None);
            h.await.unwrap();
            mh.await.unwrap();
        });
    }
}

//! # vecsim-core
//!
//! The model of Vehicular Edge Computing from Lei et al., "Federated MADDPG-based Collaborative
//! Scheduling Strategy in Vehicular Edge Computing", with the corrections of the project's
//! SPEC: pure, synchronous and deterministic. No tokio, no actors: the actor runtime
//! (`vecsim-actors`) and the sequential [`engine`] both drive the same code.
//!
//! One slot, in order (SPEC §1): vehicles move and draw tasks ([`vehicle`]), upload to the
//! nearest RSU ([`channel`], eq. 1), the RSU's [`policy`] picks an executing RSU per task, tasks
//! migrate over the wire ([`wired`], eq. 4), each executing RSU splits its CPU ([`allocation`],
//! [`kkt`]), tasks run and complete or miss ([`slot`], eq. 3, 5, 6), and the slot is scored
//! (rates, potential, rewards; eq. 7, 18, 19) and reported ([`report`]).

pub mod allocation;
pub mod atomic;
pub mod bounded;
pub mod channel;
pub mod clock;
pub mod codec;
pub mod engine;
pub mod error;
pub mod fault;
pub mod fedavg;
pub mod geometry;
pub mod ids;
pub mod kkt;
pub mod learning;
pub mod message;
pub mod mobility;
pub mod observer;
pub mod outcome;
pub mod overrides;
pub mod policy;
pub mod report;
pub mod rng;
pub mod rsu;
pub mod scenario;
pub mod slot;
pub mod suggest;
pub mod task;
pub mod vehicle;
pub mod wired;

pub use engine::{Engine, Sequential};
pub use error::{ScenarioError, TraceError};
pub use scenario::Scenario;

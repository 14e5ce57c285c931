//! The black-box and in-process integration tests, one binary so the build links the
//! switch and its dependencies once (each file below was its own test binary).

mod common;

mod administration;
mod api;
mod baresip;
mod blf;
mod call_outcomes;
mod calls;
mod capture;
mod cli_admin;
mod cli_route;
mod cluster;
mod conference;
mod devices;
mod durability;
mod hunt_groups;
mod isolation;
mod ivr;
mod line_features;
mod malformed_input;
mod node;
mod overload;
mod plan_calls;
mod queue_centre;
mod queues;
mod registration;
mod security;
mod sim;
mod sim_flows;
mod timers;
mod trunk_timers;
mod trunks;
mod voicemail;
mod web;

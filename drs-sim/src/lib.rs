//! A simulator of AWS Elastic Disaster Recovery that speaks DRS's real wire protocol,
//! so the real `aws-sdk-drs` client and Step Functions `aws-sdk:drs:*` tasks talk to it
//! unchanged. It sits in front of moto: DRS is answered here, every other service is
//! forwarded, and recovered instances are created in moto's EC2.

pub mod clock;
pub mod ec2;
pub mod emulator;
pub mod error;
pub mod events;
pub mod faults;
pub mod launch_actions;
pub mod launch_config;
pub mod ops;
pub mod server;
pub mod templates;
pub mod world;

pub use server::{Config, Sim, start};

//! Lambda-side tasks: the health-check probe the state machines invoke (the one thing a
//! direct service integration cannot do is open a TCP or HTTP connection), and the
//! CloudFormation custom resources of the deployment templates.

pub mod custom_resource;
pub mod probe;

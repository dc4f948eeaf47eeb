//! Lambda-side tasks the state machines invoke. Only the health-check probe so far: the
//! one thing a direct service integration cannot do is open a TCP or HTTP connection.

pub mod probe;

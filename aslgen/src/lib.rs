//! `aslgen`: DRS recovery plans in, AWS Step Functions state machines out.
//!
//! The pipeline is parse → validate (and resolve) → plan each wave's flow → compile.
//! Nothing here knows about HTTP or DynamoDB clients; the API and the CLI sit on top.

pub mod asl;
pub mod compile;
pub mod events;
pub mod flow;
pub mod graph;
pub mod iam;
pub mod inventory;
pub mod model;
pub mod parse;
pub mod records;
pub mod stepmap;
pub mod synth;
pub mod validate;

pub use compile::{CompileError, Compiled, Deployment, Split, compile, compile_split};
pub use inventory::Inventory;
pub use model::PlanDocument;
pub use validate::{Invalid, Problem, Resolved, validate};

/// Everything that can stop a plan from compiling, for callers that want one type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] parse::ParseError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// Parses, validates and compiles a plan document given as text.
pub fn compile_text(
    text: &str,
    origin: &str,
    inventory: Option<&Inventory>,
    deployment: &Deployment,
) -> Result<Compiled, Error> {
    let doc = parse::plan_document(text, origin)?;
    let resolved = validate(&doc, inventory)?;
    Ok(compile(&resolved, deployment)?)
}

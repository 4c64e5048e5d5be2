pub mod genesys;
pub mod lambda;

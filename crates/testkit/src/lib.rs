pub mod genesys;

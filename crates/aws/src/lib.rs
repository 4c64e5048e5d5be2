//! # tvault-aws
//!
//! AWS for transcript-vault, through the official AWS SDK for Rust, configured
//! by the standard AWS chain exactly as the AWS CLI reads it (region,
//! credentials, and `AWS_ENDPOINT_URL` for emulators such as moto).
//!
//! | module | role |
//! |---|---|
//! | [`secret`] | the settings secret in Secrets Manager: parsed, cached, re-read on rotation |
//! | [`queue`] | SQS: receive, delete, change visibility, send, and DLQ redrive |
//! | [`witness`] | the ledger's witness lines in SSM Parameter Store, create-only |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = tvault_aws::sdk_config().await;
//! let queue = tvault_aws::queue::Queue::new(&config, "https://sqs.eu-west-1.amazonaws.com/1/q");
//! let batch = queue.receive(10, 20, 300).await?;
//! # Ok(()) }
//! ```

pub mod queue;
pub mod secret;
pub mod witness;

pub use aws_config::SdkConfig;

pub use queue::{Queue, QueueError, Received};

/// Load the AWS configuration from the environment, as the AWS CLI does.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Render an SDK error with its whole chain of causes (the SDK's `Display`
/// alone says only "service error"): core's one error-chain helper.
pub use tvault_core::text::error_chain as error_text;

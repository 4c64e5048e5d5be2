//! `tvault serve`.

use anyhow::Result;

use crate::search_help::ServeArgs;

pub async fn serve(_vault_location: &str, _args: ServeArgs) -> Result<u8> {
    anyhow::bail!("not yet")
}

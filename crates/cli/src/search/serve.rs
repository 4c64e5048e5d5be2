//! `tvault serve`.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use tvault_web::server::{self, Room};

use crate::cli::EXIT_OK;
use crate::search_help::ServeArgs;

pub async fn serve(vault_location: &str, args: ServeArgs) -> Result<u8> {
    let zone = super::zone(args.tz.as_deref())?;
    let dir = super::index_dir(args.index, vault_location)?;
    // Search needs the index; the day and conversation pages do not.
    let index_dir = match tvault_search::open_for_reading(&dir) {
        Ok(_) => Some(dir),
        Err(e) => {
            eprintln!("tvault serve: search is off: {e}");
            None
        }
    };
    let vault = crate::settings(vault_location).await?.open_vault()?;
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let token = server::new_token().map_err(anyhow::Error::msg)?;
    let room = Arc::new(Room {
        vault,
        index_dir,
        zone,
        token,
        addr,
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", room.url())?;
        out.flush()?;
    }
    eprintln!(
        "tvault serve: the reading room is open at the URL above (read-only); Ctrl-C stops it"
    );
    let serving = tokio::spawn(server::serve(listener, room));
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    serving.abort();
    Ok(EXIT_OK)
}

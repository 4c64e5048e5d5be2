//! Flags and help texts of `index`, `find` and `serve` (and the search
//! filters `export` shares), kept apart from `cli.rs` so each command's
//! block stays small.

use std::path::PathBuf;

use clap::Args;

pub const INDEX_ABOUT: &str = "\
Build or update the local search index from the vault.

Reads the date index of --from..--to (UTC days of conversation end), and for
each generation not read before: its manifest, its transcript (checked
against the manifest's SHA-256) and the raw event and recordings payloads
(for the message type and the queue). Writes one SQLite file,
INDEX_DIR/index.sqlite (FTS5, readable by any SQLite tool). Re-running it
reads only the generations it has not read yet, so a nightly run over the
last few days keeps it current.

Indexed per message: conversation id, generation, day, time, media and
message type, direction and purpose, sender name, address, external contact
and user ids, text, attachment names. Per conversation: participants, queue,
start and end. Searches see the latest generation of each conversation (the
same choice as `show`).

The index is a cache: it is never written to the vault, the vault never
needs it, and deleting it loses nothing (run `tvault index` again). It needs
read access to the vault only. A progress bar shows on a terminal.

Output: one line on stdout:
  indexed N new generation(s) from N marker(s) of DAYS (N already indexed, N not committed yet)
and one line on stderr per generation that could not be indexed (exit 1).";

pub const FIND_ABOUT: &str = "\
Find conversations in the search index (built by `tvault index`).

Filters (all given must hold):
  --text TEXT          words, \"exact phrases\" and prefix* queries, all in one
                       message (its text or attachment names); case and accents
                       do not matter (muller finds Müller); emoji are found too.
                       Search syntax typed by you (OR, NEAR, col:) is searched
                       as words, never run as FTS5 syntax
  --participant WHO    a name, address (phone, e-mail, channel id), external
                       contact id or user id of anyone in the conversation, as a
                       phrase; WHO* for a prefix
  --from DAY --to DAY  UTC days of conversation end (as `list`)
  --media MEDIA        MESSAGE or CHAT
  --message-type TYPE  WEBMESSAGING, SMS, WHATSAPP, OPEN, ... (from the event)

Results, newest first, one line per conversation: day, time (of the first
matching message, in --tz), conversation id, who wrote it, and a snippet
with the match in [brackets] (bold on a terminal). --json prints one JSON
object per line instead, with every matching message (up to 5).

Every result is checked against the vault before it is shown: its manifest
is read, the transcript is re-hashed against it, and the matching message's
text must be the indexed text. A result that fails (a stale index, or a
tampered vault) is not shown: it is named on stderr with the reason.

Exit code 0 when something was shown; 1 when nothing matched or a result was
refused; 2 for a usage error or a missing index.";

pub const SERVE_ABOUT: &str = "\
A read-only web reading room over the vault and the search index.

Listens on 127.0.0.1 (--addr to change) and prints one URL that carries a
random access token; every request without that token is refused (403).
Pages: search (the same filters as `find`), a day of the date index, a
conversation (the same page as `export`, with its integrity check: the
manifest's hash and every object re-hashed on each view), attachment
downloads (re-hashed on the way out; active types such as HTML or SVG are
sent as downloads, never shown in place), and \"export this conversation\" /
\"export these results\" as a zip with SHA256SUMS.

It never writes to the vault: a read-only SAS is enough on Azure. Pages run
no script and load nothing from elsewhere (Content-Security-Policy). Stop it
with Ctrl-C.";

/// The search filters `find`, `serve`'s form and `export --query` share.
#[derive(Debug, Clone, Default, Args)]
pub struct Filters {
    /// Words, "phrases" and prefix* queries found in one message.
    #[arg(long, visible_alias = "query", value_name = "TEXT")]
    pub text: Option<String>,

    /// A name, address, external contact id or user id of a participant.
    #[arg(long, value_name = "WHO")]
    pub participant: Option<String>,

    /// First UTC day of conversation end (YYYY-MM-DD; needs --to).
    #[arg(long, value_name = "DATE", requires = "to")]
    pub from: Option<String>,

    /// Last UTC day of conversation end, included (needs --from).
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,

    /// MESSAGE or CHAT.
    #[arg(long, value_name = "MEDIA")]
    pub media: Option<String>,

    /// Genesys message type: WEBMESSAGING, SMS, WHATSAPP, OPEN, ...
    #[arg(long, value_name = "TYPE")]
    pub message_type: Option<String>,
}

impl Filters {
    /// Whether any filter that needs the search index is given.
    pub fn needs_index(&self) -> bool {
        self.text.is_some()
            || self.participant.is_some()
            || self.media.is_some()
            || self.message_type.is_some()
    }
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// First UTC day of the date index to read (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: String,

    /// Last UTC day to read, included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: String,

    /// The index folder (default: a folder per vault in the user's cache).
    #[arg(long, env = "TVAULT_INDEX", value_name = "DIR")]
    pub index: Option<PathBuf>,

    /// Vault reads at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct FindArgs {
    #[command(flatten)]
    pub filters: Filters,

    /// The index folder (default: a folder per vault in the user's cache).
    #[arg(long, env = "TVAULT_INDEX", value_name = "DIR")]
    pub index: Option<PathBuf>,

    /// Most conversations shown.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,

    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Show times in this IANA zone (e.g. Europe/Berlin); stored times stay UTC.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The index folder (default: a folder per vault in the user's cache).
    #[arg(long, env = "TVAULT_INDEX", value_name = "DIR")]
    pub index: Option<PathBuf>,

    /// Where to listen. Another address than loopback lets others on the
    /// network reach the vault's contents (with the token).
    #[arg(long, default_value = "127.0.0.1:8650", value_name = "HOST:PORT")]
    pub addr: String,

    /// Show times in this IANA zone (e.g. Europe/Berlin); stored times stay UTC.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

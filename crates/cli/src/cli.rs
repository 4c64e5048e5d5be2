//! Flags and help texts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit code: every record or object was fine.
pub const EXIT_OK: u8 = 0;
/// Exit code: some records failed, or verification found problems.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage or configuration error; nothing was done.
pub const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes:
  0  everything succeeded
  1  some records failed (each is reported with its file, line and reason),
     or `verify` / `show` / `list` / `export` / `index` / `audit` found a
     problem, `find` found nothing (or refused a result), or `reconcile`
     found something missing, or `seal` could not seal
  2  usage or configuration error: nothing was done

Environment:
  TVAULT_VAULT                       the vault (same as --vault)
  TVAULT_INDEX                       the search index folder (same as --index)
  AZURE_STORAGE_CONNECTION_STRING    the Azure credential (or other AZURE_STORAGE_*
                                     variables: docs/azure.md)
  TVAULT_SECRET_ID                   a Secrets Manager secret holding the settings
                                     below (its values win); read by every command
                                     that uses the vault or Genesys. Unset it to
                                     read the vault during an AWS outage
  GENESYSCLOUD_OAUTHCLIENT_ID        Genesys OAuth client (client credentials);
  GENESYSCLOUD_OAUTHCLIENT_SECRET    needed for lifecycle events and for
  GENESYSCLOUD_REGION                attachments (eu-west-1, mypurecloud.ie, or a base URL)
  TVAULT_GENESYS_REQUESTS_PER_MINUTE this process's share of the Genesys allowance
  RUST_LOG                           log filter, e.g. info or tvault_core=debug

Docs: README.md, docs/vault-format.md (the vault's layout for readers without this program).";

/// transcript-vault: a write-once, hashed, second-cloud archive of Genesys
/// Cloud digital transcripts and their attachments.
#[derive(Debug, Parser)]
#[command(name = "tvault", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Where the vault is: a local directory, `memory://`, or an Azure
    /// container (az://CONTAINER or https://ACCOUNT.blob.core.windows.net/CONTAINER).
    #[arg(
        long,
        global = true,
        env = "TVAULT_VAULT",
        default_value = "./vault",
        value_name = "LOCATION"
    )]
    pub vault: String,

    /// More log output on stderr (-v: each record, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log lines on stderr as flat JSON objects (one per line, for a log
    /// collector) or as text (colours only on a terminal).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Archive events from files, directories or stdin into the vault.
    #[command(long_about = ARCHIVE_ABOUT, after_help = AFTER_HELP)]
    Archive(ArchiveArgs),
    /// Print a conversation's transcript from the vault (the latest generation).
    #[command(long_about = SHOW_ABOUT, after_help = AFTER_HELP)]
    Show(ShowArgs),
    /// Re-hash every object every manifest lists and report problems.
    #[command(long_about = VERIFY_ABOUT, after_help = AFTER_HELP)]
    Verify(VerifyArgs),
    /// List archived conversations from the vault's date index.
    #[command(long_about = LIST_ABOUT, after_help = AFTER_HELP)]
    List(ListArgs),
    /// Prove completeness against Genesys for a range of days; --backfill the gaps.
    #[command(long_about = RECONCILE_ABOUT, after_help = AFTER_HELP)]
    Reconcile(ReconcileArgs),
    /// Export one conversation to a folder: a readable HTML page, the stored
    /// JSON and the attachments, every hash re-checked against the manifest.
    #[command(long_about = EXPORT_ABOUT, after_help = AFTER_HELP)]
    Export(ExportArgs),
    /// Consume an SQS queue of events until stopped (ECS, Kubernetes, a VM).
    #[command(long_about = WORKER_ABOUT, after_help = AFTER_HELP)]
    Worker(WorkerArgs),
    /// Look at and redrive the dead-letter queue.
    #[command(subcommand, after_help = AFTER_HELP)]
    Dlq(DlqCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(long_about = COMPLETIONS_ABOUT)]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command with --dir.
    #[command(long_about = MAN_ABOUT)]
    Man(ManArgs),
    /// Build or update the local search index from the vault (read access is enough).
    #[command(long_about = crate::search_help::INDEX_ABOUT, after_help = AFTER_HELP)]
    Index(crate::search_help::IndexArgs),
    /// Find conversations by text, participant, day, media or message type.
    #[command(long_about = crate::search_help::FIND_ABOUT, after_help = AFTER_HELP)]
    Find(crate::search_help::FindArgs),
    /// A read-only web reading room over the vault and the search index, on 127.0.0.1.
    #[command(long_about = crate::search_help::SERVE_ABOUT, after_help = AFTER_HELP)]
    Serve(crate::search_help::ServeArgs),
    /// Seal a UTC day into the hash-chained ledger (create-only; safe to repeat).
    #[command(long_about = SEAL_ABOUT, after_help = AFTER_HELP)]
    Seal(SealArgs),
    /// Check sealed days: the ledger's chain, what it lists, what was added
    /// since, and every listed conversation's objects.
    #[command(long_about = AUDIT_ABOUT, after_help = AFTER_HELP)]
    Audit(AuditArgs),
    /// Preflight: can this machine reach and use the vault, Genesys and the queue?
    #[command(long_about = CHECK_ABOUT)]
    Check(CheckArgs),
}

const CHECK_ABOUT: &str = "\
Check the settings before (or after) a deployment, one line per check.

Names the vault first (its URL without the query string, so a SAS is never
printed) and its kind, then checks:
  vault reachable, container found, can list
                 a list of healthcheck/ answers (Azure: the endpoint, the
                 container, the credential's list right; locally: the
                 directory exists, and is never created by check)
  vault can read the probe object healthcheck/SHA256 is read if it is there
  vault can create
                 the probe object is created through the create-only writer:
                 always the same bytes under the SHA-256 of those bytes, so it
                 is the one thing check ever leaves in the vault, and a second
                 run finds it there (Azure refuses the conditional create with
                 409 and the bytes are compared: a pass); a credential without
                 the create right is refused (403): a failure. Skipped with
                 --read-only
  Genesys region and token
                 the login host of GENESYSCLOUD_REGION issues a client-
                 credentials token to the OAuth client (skipped when no
                 GENESYSCLOUD_* setting is given). The API permissions are
                 not checked by this version (the line says so)
  SQS queue      with --queue-url: GetQueueAttributes answers, and the queue
                 has a redrive policy with a maxReceiveCount, naming a
                 dead-letter queue that exists

Each line starts with a mark: on a terminal a tick, a cross or `-` (skipped);
otherwise (a pipe, a log) `ok`, `FAIL` or `skip`. A failed check is followed
by a line `fix: ...`. The last line counts the failures.

Exit codes: 0 every check passed (skipped ones aside); 1 a check failed;
2 usage or configuration error (nothing was checked).";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Leave out the create check: for a reader credential (read and list).
    #[arg(long)]
    pub read_only: bool,

    /// Also check this SQS queue and its redrive policy.
    #[arg(long, env = "TVAULT_QUEUE_URL", value_name = "URL")]
    pub queue_url: Option<String>,
}

const COMPLETIONS_ABOUT: &str = "\
Print a completion script for SHELL on stdout, made from the same
definitions as --help. For example:
  bash:  tvault completions bash > ~/.local/share/bash-completion/completions/tvault
  zsh:   tvault completions zsh > ~/.zfunc/_tvault   (with fpath+=~/.zfunc)
  fish:  tvault completions fish > ~/.config/fish/completions/tvault.fish";

const MAN_ABOUT: &str = "\
Print the tvault(1) manual page (roff) on stdout, made from the same
definitions as --help: man -l <(tvault man). With --dir DIR, write tvault.1
and one page per command (tvault-archive.1, tvault-dlq-inspect.1, ...) into
DIR instead, for share/man/man1.";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write tvault.1 and a page per command into this existing directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const ARCHIVE_ABOUT: &str = "\
Archive events from files, directories or stdin into the vault.

Each input is either one whole JSON document or one JSON document per line
(JSON Lines). A document may be an EventBridge event, an SQS record whose body
is one, or an SQS event with Records[]. Directories are read for *.json,
*.jsonl and *.ndjson files, in name order; symbolic links and special files
(FIFOs, devices) inside a directory are not followed, and each is named on
stderr (a path given on the command line is read even if it is a link). A
document over 64 MiB (a whole file, or one line of JSON Lines) fails as a
record without being parsed; the other records still run.

What happens to each event:
  - a Genesys lifecycle event (...customer.end, ...acw) for a MESSAGE or CHAT
    conversation (or one without mediaType): its transcript and attachments
    are pulled from the Genesys API (needs the GENESYSCLOUD_* settings);
  - an event whose detail (or detail.eventBody) carries conversationId and
    messages[]: that transcript is archived as received; its attachments are
    fetched through the Genesys API, or listed as missing without credentials;
  - any other topic (...user.end too: it fires per agent session, while the
    conversation goes on) or media type: skipped (counted, not an error);
  - anything else (not JSON, no or unsafe conversation id, wrong field types,
    a time outside the years 0001-9999 once converted to UTC): failed,
    reported as FILE:LINE: reason; the other records still run.

Archiving is idempotent: a conversation already in the vault with the same
content downloads and writes nothing but the event itself, kept under
source/ by its hash (\"already in vault\"; the same event again writes
nothing at all). Different content for the same conversation becomes a new
generation; older ones stay.

Output: one line per failed record on stderr, then one summary line on stdout:
  archived N, already in vault N, skipped N, failed N";

const SHOW_ABOUT: &str = "\
Print a conversation's transcript from the vault.

Reads the latest generation (by its manifest's archivedAt) unless --generation
is given, checks the transcript's SHA-256 against the manifest, and prints the
messages in time order with senders and attachments. --json prints the stored
transcript (transcript-vault/transcript/v1) byte for byte instead.

Control characters in stored text (CR, ESC, BEL, C1 controls, bidirectional
overrides) are printed escaped (\\r, \\x1b, \\u{9b}), and a backslash as
\\\\, so a transcript cannot repaint the screen; a newline in a message
continues on an indented line. --json is not escaped.

A manifest that cannot be read (junk bytes, or not the manifest its name
says) is named on stderr and skipped; the latest readable generation is
shown (exit 0). --generation GEN reads that generation's manifest alone.

Needs only read access to the vault: no Genesys, no AWS.";

const VERIFY_ABOUT: &str = "\
Re-hash every object every manifest lists and report problems.

Reports, one line each:
  missing    an object a manifest lists is not in the vault
  corrupt    an object's SHA-256 or size differs from its manifest (every
             manifest's claim is checked: two manifests that give one object
             different hashes cannot both pass), or an unlisted raw payload
             whose SHA-256 does not start with the sha16 in its name
  orphaned   an object under conversations/ that no manifest lists (for
             example left by an archive that was interrupted), or a date-index
             marker whose manifest does not exist
  unindexed  a manifest with no date-index marker
  unreadable a manifest that is not valid transcript-vault/manifest/v1 JSON,
             or not the manifest its name says (conversation and generation);
             the other manifests are still checked

and, as information that is not a problem:
  unlisted provenance  a raw payload under source/ of a conversation that has
             a manifest, listed by no manifest, whose bytes match the sha16 in
             its name: another event heard about content already archived
             (acw after customer.end, or two deliveries racing to commit)

The last line counts them: verified N manifest(s) of N conversation(s),
N object(s): N problem(s)[, N unlisted provenance object(s)].
Object names are printed with control characters escaped.

With --from/--to, only the conversations indexed on those UTC days are
checked (all their generations and objects), and the \"unindexed\" check is
left out (a generation may be indexed on a day outside the range). Objects are
hashed --concurrency at a time; a progress bar shows on a terminal, and a plain
line every 5 s otherwise. Needs only read access to the vault.

A vault (or a --from/--to range) with no manifest at all is said so on
stderr and exits 1, since a verify that checked nothing proves nothing (the
wrong vault, or an archive that never ran); --allow-empty makes it exit 0.

Exit code 0 when there is no problem, 1 otherwise.";

const LIST_ABOUT: &str = "\
List archived conversations from the vault's date index.

The index files each conversation under the UTC day it ended (else its last
message, else its event). One line per conversation and day: media type,
messages, attachments (and how many are NOT IN VAULT), end time, the latest
generation, when it was archived and what triggered it. --json prints one JSON
object per line instead. A marker without its manifest (an archive interrupted
before it committed), or a conversation whose indexed manifests are all
unreadable, is listed with the problem. An unreadable manifest beside readable
ones is named on stderr and skipped (it does not change the exit code; verify
reports it). Text from the vault is printed with control characters escaped.

Needs only read access to the vault: no Genesys, no AWS. Works the same on a
local directory and on Azure (for example with a read-only SAS during an AWS
outage).

Exit code 0, or 1 when a listed entry has a problem.";

const RECONCILE_ABOUT: &str = "\
Prove that every conversation of a range of UTC days is in the vault.

1. Lists every ended MESSAGE or CHAT conversation that started on those days
   through the Genesys analytics API (conversation details: the synchronous
   query for short ranges, asynchronous jobs for long ones; split into
   intervals of at most 31 days and 100,000 results; de-duplicated by
   conversation id). A range that ends after Genesys's dataAvailabilityDate is
   refused: analytics data is not complete yet, so a gap could be false.
2. Looks each one up in the vault's date index and manifests.
3. Prints, per day of conversation start: expected, archived, missing,
   archived with missing attachments, and incomplete (only generations
   without the conversation's end: archived while it was still going on);
   then one line per gap:
     missing DAY CONVERSATION_ID
     missing-attachments DAY CONVERSATION_ID (ATTACHMENT_ID: reason; ...)
     incomplete DAY CONVERSATION_ID (generation GEN has no conversation end ...)

--json-report FILE writes the whole result (per day and per conversation);
--csv-report FILE writes one row per expected conversation (day,
conversation_id, status, generation, missing_attachments, conversation_start,
conversation_end, detail) for spreadsheets.

--backfill archives every gap through the same pull path as a live event
(the manifest's trigger.kind is \"backfill\"), then checks again and reports
the result. It is safe to interrupt and run again: writes are create-only, so
what is already archived is not written twice.

Needs the GENESYSCLOUD_* settings (an OAuth client allowed to read analytics
conversation details, and recordings and messages for --backfill) and the vault.

Exit codes: 0 nothing missing; 1 something is missing (a conversation, an
attachment, a conversation's end, an unusable listing row, or a backfill that
failed); 2 usage or
configuration error, or a range Genesys cannot answer yet.";

const EXPORT_ABOUT: &str = "\
Export one conversation from the vault to a folder: a page to read in any
browser, the stored JSON, and the attachments, each re-checked against the
manifest on the way out.

Reads the latest generation (by its manifest's archivedAt) unless --generation
is given, and writes DIR/CONVERSATION_ID/:
  index.html        the conversation for a person: every message in time order
                    with its time, sender and text; images (PNG, JPEG, GIF,
                    WebP up to 8 MiB) shown inline, other attachments linked;
                    attachments the archive could not fetch shown as \"not in
                    vault\" with the reason; and an integrity table of every
                    file with its SHA-256 and size
  manifest.json     the manifest as stored in the vault, byte for byte
  transcript.json   the transcript as stored (transcript-vault/transcript/v1)
  attachments/ID/NAME   each attachment, named as in the vault

Can I trust it? The transcript and every attachment were hashed (SHA-256)
and sized as they were read, and compared with the manifest; the export
happens only if all of them match. If one does not (the vault was altered, or
a read went wrong), or an object cannot be read, nothing is exported: the
command names the conversation, the object and the difference, and exits 1.
index.html states the time of that check and lists every file's SHA-256 and
size, manifest.json's too, so anyone can repeat the check later with any
SHA-256 tool, and compare manifest.json with the vault's copy
(see docs/vault-format.md).

Is the page safe to open? It runs no script and loads nothing from outside the
folder: a Content-Security-Policy forbids both, and every text from the
transcript is escaped. SVG attachments are linked, never displayed. Links to
attachments a browser would open as a page or could sniff as one (HTML, SVG,
XML, anything but images, PDF, text, audio and video) carry `download`: the
browser saves them instead of opening them in place.

What it needs: read access to the vault only. No Genesys, no AWS: it works
while they are down. The raw payloads under source/ are not exported
(`tvault verify` checks them).

It never overwrites: if DIR/CONVERSATION_ID exists it refuses (exit 2).

A manifest that cannot be read is named on stderr and skipped: the latest
readable generation is exported (exit 0). --generation GEN reads that
generation's manifest alone.

Output: one line on stdout:
  exported ID to DIR/ID (N files, M bytes, all hashes match the manifest)
where N and M count the transcript and the attachments, the files checked.

Many conversations at once: --from DAY --to DAY (the conversations the date
index files on those UTC days), or a search of the index built by `tvault
index` (--query/--text, --participant, --media, --message-type, with
--from/--to too; at most --limit). They go into a NEW folder (--out DIR) or
a new zip (--zip FILE; also for one conversation ID):
  index.html        a list of the conversations, linking to each page
  SHA256SUMS        every file's SHA-256 (`sha256sum -c SHA256SUMS` checks them)
  ID/...            each conversation as above
Every conversation is checked as above; if one fails, nothing is written
(exit 1). An existing folder or zip is never overwritten (exit 2).

--tz ZONE (an IANA name such as Europe/Berlin) shows the page's times in
that zone; manifest.json and transcript.json keep their stored UTC times.";

const WORKER_ABOUT: &str = "\
Consume an SQS queue of events until stopped: the same pipeline as the Lambda,
as a long-running process for ECS, Kubernetes or a VM.

Each message is archived and deleted only once its archive is durable in the
vault. While a message is in progress its visibility is extended (heartbeat).
One message may take up to --record-timeout seconds. A message that is not
ready yet (Genesys has not produced the transcript) or was throttled is hidden
again with a growing delay; an invalid one is released at once, so it uses up
its receives in seconds and the queue's redrive policy moves it to the
dead-letter queue unchanged.

Settings come from the environment (see below), or from the Secrets Manager
secret named by TVAULT_SECRET_ID. AWS access uses the standard AWS chain
(AWS_REGION, credentials, AWS_ENDPOINT_URL for emulators).

SIGTERM or SIGINT: stop receiving, let in-flight messages finish for up to
--grace seconds, release the rest to the queue at once, and exit 0. Scale by
running more copies: the queue is the coordinator.

--seal-at HH:MM seals yesterday (UTC) into the vault's ledger every day at
that UTC time, and logs its witness line (also kept in SSM with
TVAULT_WITNESS_SSM_PREFIX): see `tvault help seal`. A worker started after
that time seals yesterday at once; several workers may all do it (sealing is
create-only and idempotent). It needs no queue.";

const SEAL_ABOUT: &str = "\
Seal a UTC day into the vault's hash-chained ledger.

Lists the day's date-index markers, reads each one's manifest, and writes
ledger/YYYY/MM/DD.json: the committed generations of the day (conversation id,
generation, manifest name, the manifest's SHA-256 and size), sorted, with a
Merkle root over them, the SHA-256 of the latest ledger object of the
previous sealed day (the chain), the tool's version and the time of sealing.
The format is in docs/vault-format.md, \"The ledger\".

A day is sealed once. Sealing it again writes nothing, unless generations were
indexed under it since: those go into a supplement, ledger/YYYY/MM/DD.N.json,
which follows the day's latest ledger object. Every write is create-only, so
the writer credential (create, no overwrite) is enough. Index markers whose
manifest does not exist (an archive interrupted before it committed) are not
generations and are not sealed; they are named on stderr.

Output: one line on stdout, the witness line of the day:
  YYYY-MM-DD <SHA-256 of ledger/YYYY/MM/DD.json>
Keep it where the vault's administrators cannot rewrite it (`tvault audit
--witness FILE` compares such lines with the vault). With
TVAULT_WITNESS_SSM_PREFIX set, it is also written to the SSM parameter
PREFIX/YYYY-MM-DD (create-only). What was written goes to stderr.

Exit codes: 0 sealed (or nothing new); 1 the day could not be sealed (a ledger
object of the day is not valid, or the vault failed); 2 usage error, or a day
that has not ended yet (UTC).";

const AUDIT_ABOUT: &str = "\
Check the sealed days from --from to --to (UTC days, both included).

For each day, and naming each day and conversation it finds wrong:
  not sealed             the day has no ledger object
  bad ledger object      a ledger object is not valid (schema, name, count,
                         order, or its Merkle root does not match its entries)
  chain broken           a ledger object's `previous` does not match the
                         object it names (that one changed after it was
                         followed), or is missing; checked from each day back
                         to the first sealed day, or to --trusted-root
  removed after sealing  a listed manifest, or its index marker, is gone
  changed after sealing  a listed manifest's bytes differ from the ledger's
  added after sealing    a committed generation indexed on the day is in no
                         ledger object of the day (seal the day again if it
                         is a late arrival)
  witness mismatch       with --witness: a line differs from the day's main
                         ledger object, names one that does not exist, or a
                         sealed day of the range has no line
  verify: ...            the listed conversations' objects, checked by the
                         same code as `tvault verify --from --to` (missing,
                         corrupt, orphaned, unreadable)

Notes (not problems): days sealed late, which the chain shows.

The last lines: the latest ledger object of the range (head: PATH SHA256; give
it as --trusted-root to the next audit), and the count of problems.
--json-report FILE writes all of it as JSON.

Needs only read access to the vault (the reader SAS is enough).

Exit codes: 0 everything holds; 1 a problem was found; 2 usage error (a bad
date, witness line or root).";

#[derive(Debug, Args)]
pub struct SealArgs {
    /// The UTC day to seal (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub day: String,

    /// Manifests read at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// First UTC day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: String,

    /// Last UTC day, included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: String,

    /// Witness lines (`YYYY-MM-DD SHA256`, as `seal` prints them) to compare
    /// with the vault's main ledger objects.
    #[arg(long, value_name = "FILE")]
    pub witness: Option<PathBuf>,

    /// The SHA-256 of a ledger object you trust (an earlier audit's head):
    /// the chain is checked back to it instead of to the first sealed day.
    #[arg(long, value_name = "SHA256")]
    pub trusted_root: Option<String>,

    /// Write the whole audit as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json_report: Option<PathBuf>,

    /// Objects read at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The SQS queue URL.
    #[arg(long, env = "TVAULT_QUEUE_URL", value_name = "URL")]
    pub queue_url: String,

    /// Messages archived at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Seconds a received message stays hidden; extended while in progress.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..=43_200))]
    pub visibility: u32,

    /// Seconds one message's archive may take before it is given up and
    /// returns through the queue (the heartbeat keeps it hidden meanwhile).
    /// 900, as a Lambda's longest run, fits a 1 GiB attachment at 2 MiB/s.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u32).range(1..=43_200))]
    pub record_timeout: u32,

    /// Seconds in-flight messages may take to finish after SIGTERM/SIGINT.
    #[arg(long, default_value_t = 25)]
    pub grace: u64,

    /// Exit (0) once a receive finds the queue empty and nothing is in flight
    /// (for draining a queue in a batch job).
    #[arg(long)]
    pub until_empty: bool,

    /// Seal yesterday (UTC) into the vault's ledger every day at this UTC
    /// time (HH:MM), as `tvault seal` does; started after it, seal yesterday
    /// at once. Leave a grace after midnight for late events.
    #[arg(long, value_name = "HH:MM", value_parser = parse_hh_mm)]
    pub seal_at: Option<chrono::NaiveTime>,

    /// Serve /metrics (Prometheus text format), /healthz and /readyz on this
    /// address (for example 0.0.0.0:9464); off unless given.
    #[arg(long, env = "TVAULT_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// `HH:MM`, a UTC time of day.
fn parse_hh_mm(s: &str) -> Result<chrono::NaiveTime, String> {
    chrono::NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| format!("{s:?} is not a time of day: expected HH:MM (UTC)"))
}

/// `tvault dlq`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead-letter messages and why each failed, without consuming them.
    Inspect {
        /// The dead-letter queue URL.
        #[arg(long, value_name = "DLQ_URL")]
        queue_url: String,
    },
    /// Move dead-letter messages back to the source queue (server-side
    /// where SQS allows it, else send, then delete).
    #[command(long_about = REDRIVE_ABOUT)]
    Redrive {
        /// The dead-letter queue URL.
        #[arg(long, value_name = "DLQ_URL")]
        queue_url: String,
        /// The source queue URL to move them to (not the DLQ itself).
        #[arg(long, value_name = "SOURCE_URL")]
        to: String,
        /// Say what would move, and how, without moving anything.
        #[arg(long)]
        dry_run: bool,
        /// Move at most N messages (send, then delete: SQS's server-side
        /// move cannot stop at a count).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        max: Option<u64>,
    },
}

const REDRIVE_ABOUT: &str = "\
Move dead-letter messages from DLQ_URL back to SOURCE_URL.

When SOURCE_URL's redrive policy names DLQ_URL (the archive DLQ) and --max is
not given, SQS moves them server-side (StartMessageMoveTask): the command
prints the task handle and returns; the messages move over the next minutes,
keeping their attributes. Otherwise (the EventBridge delivery DLQ, --max, or
a refused task), each message is sent to SOURCE_URL and only then deleted from
DLQ_URL, so a failure leaves it in one queue or both, never in none.
A SOURCE_URL equal to DLQ_URL is refused (exit 2).";

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Files or directories to read; `-` (or nothing) reads stdin.
    #[arg(value_name = "FILE")]
    pub inputs: Vec<PathBuf>,

    /// Records archived at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The Genesys conversation id.
    #[arg(value_name = "CONVERSATION_ID")]
    pub conversation_id: String,

    /// Print the stored transcript JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// Show this generation instead of the latest.
    #[arg(long, value_name = "GEN")]
    pub generation: Option<String>,

    /// Show times in this IANA zone (e.g. Europe/Berlin); stored times stay UTC.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["out", "zip"])))]
pub struct ExportArgs {
    /// The Genesys conversation id (or none, with --from/--to or a search).
    #[arg(value_name = "CONVERSATION_ID")]
    pub conversation_id: Option<String>,

    /// The folder to export into: DIR/CONVERSATION_ID for one conversation;
    /// a new folder DIR for many.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Write a new zip file instead (with index.html and SHA256SUMS).
    #[arg(long, value_name = "FILE")]
    pub zip: Option<PathBuf>,

    /// Export this generation instead of the latest (one conversation only).
    #[arg(long, value_name = "GEN", requires = "conversation_id")]
    pub generation: Option<String>,

    /// Many conversations: those of these days, or those a search finds.
    #[command(flatten)]
    pub filters: crate::search_help::Filters,

    /// The search index, for --text, --participant, --media, --message-type.
    #[arg(long, env = "TVAULT_INDEX", value_name = "DIR")]
    pub index: Option<PathBuf>,

    /// Most conversations a search exports.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub limit: u32,

    /// Show times in this IANA zone on the pages (the JSON keeps UTC).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Objects checked at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Only conversations indexed from this UTC day (YYYY-MM-DD; needs --to).
    #[arg(long, value_name = "DATE", requires = "to")]
    pub from: Option<String>,

    /// Only conversations indexed up to this UTC day, included (needs --from).
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,

    /// Write the whole report as JSON to FILE: per object, per conversation,
    /// totals, tool version, vault, range and time taken.
    #[arg(long, value_name = "FILE")]
    pub json_report: Option<PathBuf>,

    /// Write one CSV row per object (and per problem) to FILE.
    #[arg(long, value_name = "FILE")]
    pub csv_report: Option<PathBuf>,

    /// Exit 0 when there is no manifest to verify (a new vault, or quiet days).
    #[arg(long)]
    pub allow_empty: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// First UTC day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: String,

    /// Last UTC day, included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: String,

    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,

    /// Manifests read at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// First UTC day of conversation start (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: String,

    /// Last UTC day of conversation start, included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: String,

    /// Archive every gap found (trigger.kind backfill), then report again.
    #[arg(long)]
    pub backfill: bool,

    /// Write the whole report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json_report: Option<PathBuf>,

    /// Write one CSV row per expected conversation to FILE.
    #[arg(long, value_name = "FILE")]
    pub csv_report: Option<PathBuf>,

    /// Vault reads (and backfill archives) at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Date-index days read past --to: the index files a conversation under
    /// the day it ended, which can be after the day it started. Conversations
    /// not found there are looked up one by one, so this only saves reads.
    #[arg(long, default_value_t = 3, value_name = "DAYS")]
    pub index_days_after: u64,
}

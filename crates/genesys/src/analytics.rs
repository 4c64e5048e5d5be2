//! The analytics conversation-details listing: which digital conversations
//! ended on a range of UTC days, for `tvault reconcile`.
//!
//! - `GET /api/v2/analytics/conversations/details/jobs/availability`: the
//!   analytics data is complete only up to its `dataAvailabilityDate`; a range
//!   that ends later is refused rather than reported with holes.
//! - `POST /api/v2/analytics/conversations/details/query`: synchronous, paged
//!   100 at a time until a short page (`totalHits` is approximate); used
//!   for short ranges.
//! - `POST .../details/jobs`, `GET .../jobs/{jobId}` (poll until
//!   `FULFILLED`), `GET .../jobs/{jobId}/results?cursor=`: async jobs, used
//!   for longer ranges.
//!
//! Both take at most 31 days per interval and return at most 100,000 results.
//! The interval filters on conversation *start*, by whole UTC days (jobs with
//! `startOfDayIntervalMatching`), so the
//! range is only ever split on day boundaries: into 31-day chunks first, then
//! into halves while a chunk reaches the result ceiling. Pages shift while
//! data arrives, so rows are de-duplicated by `conversationId`.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use tracing::{debug, info};
use tvault_core::ConversationId;
use tvault_core::days::{DayRange, day_of};
use tvault_core::id::check_id;
use tvault_core::ports::{Deadline, SourceError};
use tvault_core::reconcile::ExpectedConversation;
use tvault_core::text::percent_encode;
use tvault_core::transcript::{fmt_time, parse_time};

use crate::client::Client;
use crate::models::{
    AnalyticsConversation, AnalyticsQueryResponse, AsyncQueryResponse, AsyncQueryStatus,
    AsyncResultsResponse, DataAvailability,
};
use crate::response::parse;

/// The synchronous details query.
pub const QUERY_PATH: &str = "/api/v2/analytics/conversations/details/query";
/// Async details jobs (`/{jobId}`, `/{jobId}/results` below it).
pub const JOBS_PATH: &str = "/api/v2/analytics/conversations/details/jobs";
/// How far the analytics data is complete.
pub const AVAILABILITY_PATH: &str = "/api/v2/analytics/conversations/details/jobs/availability";
/// The largest page the details query serves.
pub const QUERY_PAGE_SIZE: u64 = 100;
/// The page size asked of job results.
pub const RESULTS_PAGE_SIZE: u64 = 1000;
/// The longest interval one query or job takes.
pub const MAX_INTERVAL_DAYS: u64 = 31;
/// The media types this archive lists (lowercase in the analytics API).
pub const LISTED_MEDIA: [&str; 2] = ["message", "chat"];

/// How far a listing has got; reported after each page and each chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListProgress {
    /// 31-day chunks finished.
    pub chunks_done: usize,
    pub chunks_total: usize,
    /// Distinct conversations kept so far.
    pub conversations: usize,
}

/// The conversations Genesys says ended on a range of days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// De-duplicated by id, sorted by `(start, id)`.
    pub conversations: Vec<ExpectedConversation>,
    /// Rows that could not be used, each naming the row and the reason.
    pub rejected: Vec<String>,
    /// Synchronous queries and jobs run (splits included).
    pub queries: u32,
    /// Pages read (query pages and job result pages).
    pub pages: u32,
}

/// Why a listing failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(
        "Genesys analytics data is complete only up to its dataAvailabilityDate, {}, and the range asked for ends at {}: choose --to {} or earlier, or retry later",
        show(.available_until), show(.requested_end), last_complete_day(.available_until)
    )]
    NotAvailable {
        requested_end: DateTime<Utc>,
        available_until: DateTime<Utc>,
    },
    #[error(
        "{day}: more conversations started on this single day than Genesys returns for one query ({limit}); a day cannot be split further"
    )]
    TooMany { day: NaiveDate, limit: u64 },
    #[error("Genesys analytics job {job_id} ended in state {state}{}", .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    JobFailed {
        job_id: String,
        state: String,
        /// The job's `errorMessage`, when it gave one.
        message: Option<String>,
    },
    #[error("Genesys analytics job {job_id} was not fulfilled within {waited:?}; retry later")]
    JobTimedOut { job_id: String, waited: Duration },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{what}: {reason}")]
    BadResponse { what: &'static str, reason: String },
}

fn show(t: &DateTime<Utc>) -> String {
    fmt_time(*t)
}

/// The last day whose end is covered by `available`.
fn last_complete_day(available: &DateTime<Utc>) -> String {
    day_of(*available)
        .pred_opt()
        .map_or_else(|| "(none)".into(), |d| d.to_string())
}

/// `GET /api/v2/analytics/conversations/details/jobs/availability` → `dataAvailabilityDate`.
pub async fn data_availability(client: &Client) -> Result<DateTime<Utc>, SourceError> {
    let what = "analytics-availability";
    let (_, body) = client
        .get_json(what, AVAILABILITY_PATH, Deadline::NONE)
        .await?;
    let a: DataAvailability = parse(what, &body)?;
    let raw = a.data_availability_date.unwrap_or_default();
    parse_time(&raw).map_err(|e| SourceError::BadResponse {
        reason: format!("{what}: dataAvailabilityDate {raw:?} is not a time ({e})"),
    })
}

/// The digital conversations that started on `days` and have ended.
///
/// Refuses a range that ends after `dataAvailabilityDate`. Ranges of at most
/// `Tuning::analytics_sync_max_days` use the synchronous query, longer ones
/// async jobs; either way one request covers at most 31 whole days.
pub async fn ended_conversations(
    client: &Client,
    days: DayRange,
    progress: &(dyn Fn(ListProgress) + Send + Sync),
) -> Result<Listing, ListError> {
    let available = data_availability(client).await?;
    if days.end() > available {
        return Err(ListError::NotAvailable {
            requested_end: days.end(),
            available_until: available,
        });
    }
    let tuning = client.tuning();
    let chunks = days.chunks(MAX_INTERVAL_DAYS);
    let mut l = Lister {
        client,
        days,
        progress,
        sync: days.len_days() <= tuning.analytics_sync_max_days,
        limit: tuning.analytics_max_results.max(1),
        by_id: HashMap::new(),
        rejected: Vec::new(),
        rejected_seen: HashSet::new(),
        queries: 0,
        pages: 0,
        chunks_done: 0,
        chunks_total: chunks.len(),
    };
    info!(range = %days, chunks = chunks.len(), sync = l.sync, "listing ended conversations");
    for chunk in chunks {
        l.chunk(chunk).await?;
        l.chunks_done += 1;
        l.report();
    }
    let mut conversations: Vec<ExpectedConversation> = l.by_id.into_values().collect();
    conversations.sort_by(|a, b| (a.start, &a.conversation_id).cmp(&(b.start, &b.conversation_id)));
    Ok(Listing {
        conversations,
        rejected: l.rejected,
        queries: l.queries,
        pages: l.pages,
    })
}

/// Whether a query or job covered its range, or hit the result ceiling.
enum Covered {
    All,
    TooMany,
}

struct Lister<'a> {
    client: &'a Client,
    days: DayRange,
    progress: &'a (dyn Fn(ListProgress) + Send + Sync),
    sync: bool,
    limit: u64,
    by_id: HashMap<ConversationId, ExpectedConversation>,
    rejected: Vec<String>,
    rejected_seen: HashSet<String>,
    queries: u32,
    pages: u32,
    chunks_done: usize,
    chunks_total: usize,
}

type Step<'s> = Pin<Box<dyn Future<Output = Result<(), ListError>> + Send + 's>>;

impl Lister<'_> {
    /// One range of at most 31 days; halves it (recursively) while it has too many results.
    fn chunk(&mut self, range: DayRange) -> Step<'_> {
        Box::pin(async move {
            let covered = if self.sync {
                self.query(range).await?
            } else {
                self.job(range).await?
            };
            if let Covered::TooMany = covered {
                let Some((a, b)) = range.halves() else {
                    return Err(ListError::TooMany {
                        day: range.from(),
                        limit: self.limit,
                    });
                };
                info!(range = %range, limit = self.limit, "too many results for one query; splitting the range in two");
                self.chunk(a).await?;
                self.chunk(b).await?;
            }
            Ok(())
        })
    }

    /// `POST .../details/query`, page by page.
    async fn query(&mut self, range: DayRange) -> Result<Covered, ListError> {
        let what = "analytics-query";
        self.queries += 1;
        let mut page: u64 = 1;
        let mut count: u64 = 0;
        loop {
            let body = Bytes::from(query_body(range, page).to_string());
            let (_, resp) = self
                .client
                .post_json(what, QUERY_PATH, body, Deadline::NONE)
                .await?;
            self.pages += 1;
            let r: AnalyticsQueryResponse = parse(what, &resp)?;
            let total = r.total_hits;
            // totalHits is approximate, so it never ends the paging. It only
            // hints, on the first page, that a range that can still be halved
            // is over the ceiling: halving early saves paging up to it, and a
            // wrong hint costs one more query, never a row.
            if page == 1 && total.is_some_and(|t| t >= self.limit) && range.halves().is_some() {
                return Ok(Covered::TooMany);
            }
            let rows = r.conversations.unwrap_or_default();
            let n = rows.len() as u64;
            count = count.saturating_add(n);
            debug!(interval = %range.interval(), page, rows = n, total_hits = ?total, "analytics query page");
            self.take(rows);
            self.report();
            // Genesys serves at most `limit` rows of one query: having had
            // that many, a short page may be the ceiling, not the end.
            if count >= self.limit {
                return Ok(Covered::TooMany);
            }
            if n < QUERY_PAGE_SIZE {
                return Ok(Covered::All);
            }
            page += 1;
        }
    }

    /// `POST .../details/jobs`, poll, then page the results by cursor.
    async fn job(&mut self, range: DayRange) -> Result<Covered, ListError> {
        let what = "analytics-job";
        self.queries += 1;
        let body = Bytes::from(job_body(range).to_string());
        let (_, resp) = self
            .client
            .post_json(what, JOBS_PATH, body, Deadline::NONE)
            .await?;
        let created: AsyncQueryResponse = parse(what, &resp)?;
        let job_id = match created.job_id {
            Some(id) if check_id(&id).is_ok() => id,
            other => {
                return Err(ListError::BadResponse {
                    what,
                    reason: format!("no usable jobId (got {other:?})"),
                });
            }
        };
        info!(interval = %range.interval(), job_id, "analytics job submitted");
        self.wait_for(&job_id).await?;
        let what = "analytics-results";
        let mut cursor: Option<String> = None;
        let mut count: u64 = 0;
        loop {
            let mut path = format!("{JOBS_PATH}/{job_id}/results?pageSize={RESULTS_PAGE_SIZE}");
            if let Some(c) = &cursor {
                path.push_str("&cursor=");
                // Cursors are base64: `+`, `/` and `=` must be encoded.
                path.push_str(&percent_encode(c));
            }
            let (_, resp) = self.client.get_json(what, &path, Deadline::NONE).await?;
            self.pages += 1;
            let r: AsyncResultsResponse = parse(what, &resp)?;
            let rows = r.conversations.unwrap_or_default();
            count += rows.len() as u64;
            debug!(job_id, rows = rows.len(), "analytics job results page");
            self.take(rows);
            self.report();
            if count >= self.limit {
                return Ok(Covered::TooMany);
            }
            match r.cursor.filter(|c| !c.is_empty()) {
                None => return Ok(Covered::All),
                Some(c) if cursor.as_ref() == Some(&c) => {
                    return Err(ListError::BadResponse {
                        what,
                        reason: format!("job {job_id} returned the same cursor twice"),
                    });
                }
                Some(c) => cursor = Some(c),
            }
        }
    }

    /// Poll `GET .../jobs/{jobId}` every `analytics_poll` until `FULFILLED`.
    async fn wait_for(&self, job_id: &str) -> Result<(), ListError> {
        let what = "analytics-job-status";
        let tuning = self.client.tuning();
        let started = tokio::time::Instant::now();
        let path = format!("{JOBS_PATH}/{job_id}");
        loop {
            let (_, resp) = self.client.get_json(what, &path, Deadline::NONE).await?;
            let s: AsyncQueryStatus = parse(what, &resp)?;
            let state = s.state.unwrap_or_default().to_ascii_uppercase();
            match state.as_str() {
                "FULFILLED" => return Ok(()),
                "FAILED" | "CANCELLED" | "EXPIRED" => {
                    return Err(ListError::JobFailed {
                        job_id: job_id.to_string(),
                        state,
                        message: s.error_message,
                    });
                }
                // QUEUED, PENDING, RUNNING, and any state added later: wait.
                _ => debug!(job_id, state, "analytics job not fulfilled yet"),
            }
            let waited = started.elapsed();
            if waited + tuning.analytics_poll > tuning.analytics_job_timeout {
                return Err(ListError::JobTimedOut {
                    job_id: job_id.to_string(),
                    waited,
                });
            }
            tokio::time::sleep(tuning.analytics_poll).await;
        }
    }

    fn take(&mut self, rows: Vec<AnalyticsConversation>) {
        for row in rows {
            match read_row(&row, &self.days) {
                Row::Keep(c) => {
                    self.by_id.entry(c.conversation_id.clone()).or_insert(c);
                }
                Row::Skip => {}
                Row::Reject(why) => {
                    if self.rejected_seen.insert(why.clone()) {
                        self.rejected.push(why);
                    }
                }
            }
        }
    }

    fn report(&self) {
        (self.progress)(ListProgress {
            chunks_done: self.chunks_done,
            chunks_total: self.chunks_total,
            conversations: self.by_id.len(),
        });
    }
}

/// The body of the synchronous query (`api_post_analytics_conversations_details_query__request.json`).
pub fn query_body(range: DayRange, page: u64) -> Value {
    let mut body = filters(range);
    body["paging"] = json!({"pageSize": QUERY_PAGE_SIZE, "pageNumber": page});
    body
}

/// The body of a job (`api_post_analytics_conversations_details_jobs__request.json`).
///
/// `startOfDayIntervalMatching` (platform-client-sdk `AsyncConversationQuery.md`):
/// without it a job lists every conversation with *activity* in the
/// interval, including those that started before it, which this listing
/// skips anyway; they would still count toward the 100,000-row ceiling and
/// split ranges for nothing. The synchronous query has no such field
/// (`ConversationQuery.md`): it already lists by start day.
pub fn job_body(range: DayRange) -> Value {
    let mut body = filters(range);
    body["startOfDayIntervalMatching"] = json!(true);
    body
}

fn filters(range: DayRange) -> Value {
    let media: Vec<Value> = LISTED_MEDIA
        .iter()
        .map(|m| json!({"type": "dimension", "dimension": "mediaType", "operator": "matches", "value": m}))
        .collect();
    json!({
        "interval": range.interval(),
        "order": "asc",
        "orderBy": "conversationStart",
        "conversationFilters": [{"type": "and", "predicates": [
            {"type": "dimension", "dimension": "conversationEnd", "operator": "exists"}
        ]}],
        "segmentFilters": [{"type": "or", "predicates": media}],
    })
}

/// What one listed row becomes.
#[derive(Debug, PartialEq, Eq)]
enum Row {
    Keep(ExpectedConversation),
    /// Not ours to report: not ended, not digital, or started outside the range.
    Skip,
    Reject(String),
}

fn read_row(row: &AnalyticsConversation, days: &DayRange) -> Row {
    let Some(end_raw) = row.conversation_end.as_deref() else {
        return Row::Skip;
    };
    if !is_digital(row) {
        return Row::Skip;
    }
    let start_raw = row.conversation_start.as_deref();
    let id = match row.conversation_id.as_deref() {
        Some(id) if !id.is_empty() => id,
        _ => {
            return Row::Reject(format!(
                "a row without conversationId (conversationStart {:?}): cannot be reconciled",
                start_raw.unwrap_or("absent")
            ));
        }
    };
    let conversation_id = match ConversationId::new(id) {
        Ok(c) => c,
        Err(e) => {
            return Row::Reject(format!(
                "conversation {id:?}: conversationId is not a safe identifier ({e})"
            ));
        }
    };
    let start = match start_raw.map(parse_time) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            return Row::Reject(format!(
                "conversation {id}: conversationStart {:?} is not a time ({e})",
                start_raw.unwrap_or_default()
            ));
        }
        None => return Row::Reject(format!("conversation {id}: no conversationStart")),
    };
    if !days.contains(day_of(start)) {
        return Row::Skip;
    }
    let end = match parse_time(end_raw) {
        Ok(t) => t,
        Err(e) => {
            return Row::Reject(format!(
                "conversation {id}: conversationEnd {end_raw:?} is not a time ({e})"
            ));
        }
    };
    Row::Keep(ExpectedConversation {
        conversation_id,
        start,
        end: Some(end),
    })
}

/// Whether a row has a message or chat session. The query filters on media
/// already; this guards against a filter ignored. Rows without sessions pass.
fn is_digital(row: &AnalyticsConversation) -> bool {
    let mut media = row
        .participants
        .iter()
        .flatten()
        .flat_map(|p| p.sessions.iter().flatten())
        .filter_map(|s| s.media_type.as_deref())
        .peekable();
    media.peek().is_none() || media.any(|m| LISTED_MEDIA.iter().any(|l| m.eq_ignore_ascii_case(l)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{AnalyticsParticipant, AnalyticsSession};

    fn fixture(name: &str) -> Value {
        let p = format!(
            "{}/../../fixtures/genesys/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    fn day() -> DayRange {
        DayRange::parse("2026-09-20", "2026-09-20").unwrap()
    }

    fn row(
        id: Option<&str>,
        start: Option<&str>,
        end: Option<&str>,
        media: &str,
    ) -> AnalyticsConversation {
        AnalyticsConversation {
            conversation_id: id.map(str::to_string),
            conversation_start: start.map(str::to_string),
            conversation_end: end.map(str::to_string),
            participants: Some(vec![AnalyticsParticipant {
                sessions: Some(vec![AnalyticsSession {
                    media_type: Some(media.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    const S: Option<&str> = Some("2026-09-20T09:14:03.402Z");
    const E: Option<&str> = Some("2026-09-20T09:32:55.870Z");

    #[test]
    fn bodies_are_exactly_the_fixtures() {
        assert_eq!(
            query_body(day(), 1),
            fixture("api_post_analytics_conversations_details_query__request.json")
        );
        // The shared fixture was written with `false`; the client asks for
        // start-day matching (AsyncConversationQuery.md), and nothing else differs.
        let mut want = fixture("api_post_analytics_conversations_details_jobs__request.json");
        assert_eq!(want["startOfDayIntervalMatching"], false);
        want["startOfDayIntervalMatching"] = json!(true);
        assert_eq!(job_body(day()), want);
        assert_eq!(query_body(day(), 7)["paging"]["pageNumber"], 7);
    }

    #[test]
    fn rows_are_kept_skipped_or_rejected_with_the_reason() {
        let kept = read_row(&row(Some("c-1"), S, E, "message"), &day());
        assert!(
            matches!(kept, Row::Keep(ref c) if c.conversation_id.as_str() == "c-1" && c.end.is_some())
        );
        assert!(matches!(
            read_row(&row(Some("c-1"), S, E, "chat"), &day()),
            Row::Keep(_)
        ));
        assert_eq!(
            read_row(&row(Some("c-1"), S, None, "message"), &day()),
            Row::Skip
        );
        assert_eq!(
            read_row(&row(Some("c-1"), S, E, "voice"), &day()),
            Row::Skip
        );
        let next_day = Some("2026-09-21T00:00:00.000Z");
        assert_eq!(
            read_row(&row(Some("c-1"), next_day, E, "message"), &day()),
            Row::Skip
        );
        let Row::Reject(why) = read_row(&row(Some("../etc"), S, E, "message"), &day()) else {
            panic!("unsafe id kept")
        };
        assert!(
            why.contains("\"../etc\"") && why.contains("not a safe identifier"),
            "{why}"
        );
        let Row::Reject(why) = read_row(&row(None, S, E, "message"), &day()) else {
            panic!("row without id kept")
        };
        assert!(why.contains("without conversationId"), "{why}");
        let Row::Reject(why) = read_row(&row(Some("c-2"), Some("yesterday"), E, "message"), &day())
        else {
            panic!("bad start kept")
        };
        assert!(
            why.contains("c-2") && why.contains("conversationStart \"yesterday\""),
            "{why}"
        );
        let mut bare = row(Some("c-3"), S, E, "message");
        bare.participants = None;
        assert!(matches!(read_row(&bare, &day()), Row::Keep(_)));
    }

    #[test]
    fn cursors_are_url_encoded() {
        assert_eq!(percent_encode("+/ab=="), "%2B%2Fab%3D%3D");
        assert_eq!(percent_encode("eyJwYWdlIjoyfQ"), "eyJwYWdlIjoyfQ");
    }

    #[test]
    fn not_available_says_why_and_what_to_do() {
        let e = ListError::NotAvailable {
            requested_end: parse_time("2026-09-23T00:00:00Z").unwrap(),
            available_until: parse_time("2026-09-22T05:41:00Z").unwrap(),
        }
        .to_string();
        assert!(
            e.contains("dataAvailabilityDate, 2026-09-22T05:41:00.000Z"),
            "{e}"
        );
        assert!(e.contains("--to 2026-09-21 or earlier"), "{e}");
        assert!(e.contains("retry later"), "{e}");
    }
}

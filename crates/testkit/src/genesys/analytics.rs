//! The analytics routes of the fake: the conversation-details query, async
//! jobs and data availability, validated the way Genesys validates them.
//!
//! - The interval filters on conversation start, by whole UTC days: a
//!   conversation is listed when its start falls on a day the interval
//!   touches. Intervals over 31 days are refused with 400.
//! - A job without `startOfDayIntervalMatching: true` also lists the
//!   conversations that started before the interval and had activity in it
//!   (ended inside it, or not yet): platform-client-sdk
//!   `AsyncConversationQuery.md` says its interval "will include all
//!   conversations that had activity during the interval", and the flag
//!   "only include[s] conversations that started after the beginning of the
//!   interval start date". The query's interval lists by start day only
//!   (`ConversationQuery.md`).
//! - `totalHits` can be made approximate
//!   ([`set_total_hits_skew`](super::FakeGenesys::set_total_hits_skew)).
//! - `conversationFilters` `conversationEnd exists` drops open conversations;
//!   without it they are listed (so a client that forgets it fails its test).
//!   `segmentFilters` on `mediaType` keep those media only.
//! - The query refuses `pageSize` over 100; both serve at most
//!   [`set_result_limit`](super::FakeGenesys::set_result_limit) results while
//!   `totalHits` stays the true count.
//! - Job result cursors are opaque base64 that starts with `+/`, so a client
//!   that does not URL-encode them gets a 400.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::model::{
    AGENT_PARTICIPANT, CUSTOMER_PARTICIPANT, FakeConversation as Conv, FakeConversation, Media,
    Route, fmt_time,
};
use super::{FakeGenesys, State, shapes};

const MAX_INTERVAL_DAYS: i64 = 31;
const QUERY_MAX_PAGE_SIZE: i64 = 100;
/// Genesys's default page sizes when none is asked for.
const QUERY_DEFAULT_PAGE_SIZE: i64 = 25;
const RESULTS_DEFAULT_PAGE_SIZE: usize = 1000;

/// The analytics side of the fake's state.
#[derive(Debug)]
pub(crate) struct Analytics {
    result_limit: usize,
    availability: Option<DateTime<Utc>>,
    running_polls: u32,
    failing_jobs: u32,
    results_page_cap: Option<usize>,
    page_overlap: usize,
    total_hits_skew: i64,
    intervals: Vec<String>,
    jobs: HashMap<String, Job>,
    cursors: HashMap<String, (String, usize)>,
}

impl Default for Analytics {
    fn default() -> Self {
        Self {
            result_limit: 100_000,
            availability: None,
            running_polls: 0,
            failing_jobs: 0,
            results_page_cap: None,
            page_overlap: 0,
            total_hits_skew: 0,
            intervals: Vec::new(),
            jobs: HashMap::new(),
            cursors: HashMap::new(),
        }
    }
}

#[derive(Debug)]
struct Job {
    /// Snapshot of the results, taken when the job was created.
    rows: Vec<Value>,
    polls: u32,
    running_polls: u32,
    failed: bool,
}

impl Job {
    fn fulfilled(&self) -> bool {
        !self.failed && self.polls > self.running_polls
    }
}

impl FakeGenesys {
    /// Register many conversations (see [`FakeConversation::spread`]).
    pub fn add_all(&self, conversations: impl IntoIterator<Item = FakeConversation>) {
        for c in conversations {
            self.add(c);
        }
    }

    /// The `dataAvailabilityDate` served. Default: the current minute (now,
    /// rounded down), so ranges of past days are available and today is not.
    pub fn set_data_availability(&self, t: DateTime<Utc>) {
        self.lock().analytics.availability = Some(t);
    }

    /// Serve at most `n` results per query or job (default 100,000, as
    /// Genesys); `totalHits` still says how many matched.
    pub fn set_result_limit(&self, n: usize) {
        self.lock().analytics.result_limit = n;
    }

    /// Jobs created from now on answer `QUEUED`, then `RUNNING`, for their
    /// first `polls` status requests before `FULFILLED` (default 0).
    pub fn set_job_running_polls(&self, polls: u32) {
        self.lock().analytics.running_polls = polls;
    }

    /// The next `n` jobs created end `FAILED` instead of `FULFILLED`.
    pub fn fail_next_jobs(&self, n: u32) {
        self.lock().analytics.failing_jobs = n;
    }

    /// Serve job results at most `n` to a page, whatever `pageSize` asks
    /// (so small tests see several cursor pages).
    pub fn set_results_page_cap(&self, n: usize) {
        self.lock().analytics.results_page_cap = Some(n.max(1));
    }

    /// "Pages shift while data arrives": each query page after the first
    /// starts `n` rows earlier, repeating rows of the page before.
    pub fn set_page_overlap(&self, n: usize) {
        self.lock().analytics.page_overlap = n;
    }

    /// Report `totalHits` off by `skew` (saturating at 0). The issue tracker
    /// quotes Genesys calling it approximate; the SDK model
    /// (`AnalyticsConversationQueryResponse.md`) only types it as an integer.
    pub fn set_total_hits_skew(&self, skew: i64) {
        self.lock().analytics.total_hits_skew = skew;
    }

    /// Every `interval` the query and job routes received, in order.
    pub fn intervals_seen(&self) -> Vec<String> {
        self.lock().analytics.intervals.clone()
    }
}

/// Answer an analytics route, or `None` for any other route.
pub(crate) fn handle(
    st: &mut State,
    route: Route,
    segs: &[&str],
    query: Option<&str>,
    body: &[u8],
    corr: &str,
) -> Option<(u16, Value)> {
    let bad = |msg: &str| (400, shapes::error(400, "bad.request", msg, corr));
    let not_found = || {
        (
            404,
            shapes::error(
                404,
                "not.found",
                "The requested resource was not found.",
                corr,
            ),
        )
    };
    let availability = st.analytics.availability.unwrap_or_else(current_minute);
    Some(match route {
        Route::AnalyticsAvailability => {
            (200, json!({"dataAvailabilityDate": fmt_time(availability)}))
        }
        Route::AnalyticsQuery => {
            let req = match Filter::parse(st, body, true) {
                Ok(r) => r,
                Err(msg) => return Some(bad(&msg)),
            };
            let rows = req.matching(st);
            let total = rows.len();
            let a = &st.analytics;
            let served = &rows[..total.min(a.result_limit)];
            let size = usize::try_from(req.page_size.max(1)).unwrap_or(1);
            let number = usize::try_from(req.page_number.max(1)).unwrap_or(1);
            let overlap = if number > 1 { a.page_overlap } else { 0 };
            let from = ((number - 1) * size).saturating_sub(overlap);
            let to = (number * size).min(served.len());
            let page: Vec<Value> = served
                .get(from..to)
                .unwrap_or_default()
                .iter()
                .map(|c| row(c))
                .collect();
            let skewed = i64::try_from(total)
                .unwrap_or(i64::MAX)
                .saturating_add(a.total_hits_skew)
                .max(0);
            let mut v = json!({"totalHits": skewed});
            if !page.is_empty() {
                v["conversations"] = json!(page);
            }
            (200, v)
        }
        Route::AnalyticsJobCreate => {
            let req = match Filter::parse(st, body, false) {
                Ok(r) => r,
                Err(msg) => return Some(bad(&msg)),
            };
            let mut rows: Vec<Value> = req.matching(st).into_iter().map(row).collect();
            let a = &mut st.analytics;
            rows.truncate(a.result_limit);
            let n = a.jobs.len() + 1;
            let id = format!("{n:08x}-1b7d-4e3a-9f6c-{n:012x}");
            let failed = a.failing_jobs > 0;
            a.failing_jobs = a.failing_jobs.saturating_sub(1);
            let job = Job {
                rows,
                polls: 0,
                running_polls: a.running_polls,
                failed,
            };
            a.jobs.insert(id.clone(), job);
            (202, json!({"jobId": id}))
        }
        Route::AnalyticsJobStatus => {
            let Some(job) = st.analytics.jobs.get_mut(segs[6]) else {
                return Some(not_found());
            };
            job.polls += 1;
            let times = json!({"submissionDate": "2026-09-22T06:00:01.102Z"});
            let mut v = times;
            if job.polls <= job.running_polls {
                v["state"] = json!(if job.polls == 1 { "QUEUED" } else { "RUNNING" });
            } else if job.failed {
                v["state"] = json!("FAILED");
                v["errorMessage"] = json!("scripted failure");
            } else {
                v["state"] = json!("FULFILLED");
                v["completionDate"] = json!("2026-09-22T06:00:19.874Z");
                v["expirationDate"] = json!("2026-09-23T06:00:19.874Z");
            }
            (200, v)
        }
        Route::AnalyticsJobResults => {
            let job_id = segs[6].to_string();
            let a = &mut st.analytics;
            let Some(job) = a.jobs.get(&job_id) else {
                return Some(not_found());
            };
            if !job.fulfilled() {
                return Some(bad("the job is not FULFILLED"));
            }
            let offset = match param(query, "cursor") {
                None => 0,
                Some(c) => match a.cursors.get(&c) {
                    Some((j, o)) if *j == job_id => *o,
                    _ => return Some(bad("invalid cursor")),
                },
            };
            let asked = param(query, "pageSize")
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(RESULTS_DEFAULT_PAGE_SIZE)
                .max(1);
            let size = a.results_page_cap.map_or(asked, |cap| cap.min(asked));
            let end = (offset + size).min(job.rows.len());
            let page = job.rows.get(offset..end).unwrap_or_default().to_vec();
            let mut v = json!({"dataAvailabilityDate": fmt_time(availability)});
            if !page.is_empty() {
                v["conversations"] = json!(page);
            }
            if end < job.rows.len() {
                let mut raw = vec![0xfb, 0xff];
                raw.extend_from_slice(format!("{job_id}:{end}").as_bytes());
                let cursor = super::server::base64(&raw);
                a.cursors.insert(cursor.clone(), (job_id, end));
                v["cursor"] = json!(cursor);
            }
            (200, v)
        }
        _ => return None,
    })
}

fn current_minute() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp() - now.timestamp() % 60, 0).unwrap_or(now)
}

/// What a query or job body asks for.
struct Filter {
    first_day: NaiveDate,
    last_day: NaiveDate,
    /// A job without `startOfDayIntervalMatching: true`: also conversations
    /// that started earlier and were active from this instant on.
    active_from: Option<DateTime<Utc>>,
    ended_only: bool,
    media: Vec<String>,
    page_size: i64,
    page_number: i64,
}

impl Filter {
    /// Parse and validate a body; records its interval.
    fn parse(st: &mut State, body: &[u8], paged: bool) -> Result<Filter, String> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let interval = v["interval"].as_str().unwrap_or_default();
        st.analytics.intervals.push(interval.to_string());
        let (start, end) = interval
            .split_once('/')
            .and_then(|(a, b)| Some((time(a)?, time(b)?)))
            .ok_or_else(|| format!("interval {interval:?} is not start/end"))?;
        if end <= start {
            return Err(format!("interval {interval:?} ends before it starts"));
        }
        if end - start > chrono::Duration::days(MAX_INTERVAL_DAYS) {
            return Err(format!(
                "interval {interval:?}: the maximum interval is {MAX_INTERVAL_DAYS} days"
            ));
        }
        let page_size = v["paging"]["pageSize"]
            .as_i64()
            .unwrap_or(QUERY_DEFAULT_PAGE_SIZE);
        if paged && page_size > QUERY_MAX_PAGE_SIZE {
            return Err(format!(
                "paging.pageSize {page_size}: the maximum is {QUERY_MAX_PAGE_SIZE}"
            ));
        }
        let predicates = |key: &str| -> Vec<Value> {
            v[key]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|f| f["predicates"].as_array().cloned().unwrap_or_default())
                .collect()
        };
        let ended_only = predicates("conversationFilters")
            .iter()
            .any(|p| p["dimension"] == "conversationEnd" && p["operator"] == "exists");
        let media = predicates("segmentFilters")
            .iter()
            .filter(|p| p["dimension"] == "mediaType")
            .filter_map(|p| p["value"].as_str().map(str::to_ascii_lowercase))
            .collect();
        let start_of_day = v["startOfDayIntervalMatching"].as_bool() == Some(true);
        Ok(Filter {
            active_from: (!paged && !start_of_day).then_some(start),
            first_day: start.date_naive(),
            // The last day touched: the end is exclusive.
            last_day: (end - chrono::Duration::milliseconds(1)).date_naive(),
            ended_only,
            media,
            page_size,
            page_number: v["paging"]["pageNumber"].as_i64().unwrap_or(1),
        })
    }

    /// The conversations it lists, by start then id.
    fn matching<'s>(&self, st: &'s State) -> Vec<&'s Conv> {
        let mut rows: Vec<(DateTime<Utc>, &Conv)> = st
            .conversations
            .values()
            .filter_map(|c| Some((time(&c.start_time)?, c)))
            .filter(|(start, c)| {
                let day = start.date_naive();
                let active_before = self.active_from.is_some_and(|from| {
                    day < self.first_day
                        && (!c.ended || time(&c.end_time).is_some_and(|e| e >= from))
                });
                (self.first_day <= day || active_before)
                    && day <= self.last_day
                    && (c.ended || !self.ended_only)
                    && (self.media.is_empty() || self.media.iter().any(|m| m == c.media.as_str()))
            })
            .collect();
        rows.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        rows.into_iter().map(|(_, c)| c).collect()
    }
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One conversation in the shape of the jobs-results fixture.
fn row(c: &Conv) -> Value {
    let session = |id: &str| {
        let mut s = json!({"sessionId": id, "mediaType": c.media.as_str(), "direction": "inbound"});
        if c.media == Media::Message {
            s["messageType"] = json!("webmessaging");
        }
        s
    };
    let mut v = json!({
        "conversationId": c.id,
        "conversationStart": c.start_time,
        "originatingDirection": "inbound",
        "divisionIds": ["11111111-2222-4333-8444-555555555555"],
        "participants": [
            {"participantId": CUSTOMER_PARTICIPANT, "purpose": "customer",
             "sessions": [session("3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d")]},
            {"participantId": AGENT_PARTICIPANT, "purpose": "agent",
             "userId": "4f3e2d1c-0b9a-4876-a5b4-c3d2e1f0a9b8",
             "sessions": [session("9a8b7c6d-5e4f-4321-a0b9-c8d7e6f5a4b3")]},
        ],
    });
    if c.ended {
        v["conversationEnd"] = json!(c.end_time);
    }
    v
}

/// A query parameter, percent-decoded (`+` is a space, as in forms).
fn param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            x => out.push(x),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: &u8) -> Option<u8> {
    (*c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded_and_plus_is_a_space() {
        assert_eq!(
            param(Some("pageSize=10&cursor=%2B%2Fab%3D"), "cursor").as_deref(),
            Some("+/ab=")
        );
        assert_eq!(
            param(Some("cursor=+/ab"), "cursor").as_deref(),
            Some(" /ab")
        );
        assert_eq!(param(Some("cursor=ab%"), "cursor").as_deref(), Some("ab%"));
        assert_eq!(param(None, "cursor"), None);
    }
}

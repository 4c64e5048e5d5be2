//! The reading room's own pages: search, a day of the date index, and
//! messages. maud escapes every value it is given; `PreEscaped` is used only
//! for the fixed style sheet.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use futures::StreamExt;
use http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use tvault_core::ConversationId;
use tvault_core::days::{DayRange, parse_day};
use tvault_core::read;
use tvault_search::recheck::{Checked, Refused, Snippet};
use tvault_search::{Found, Query};

use super::{Params, Resp, Room, html as html_resp, param};

/// Conversations a search page shows.
pub const PAGE_LIMIT: usize = 50;

const STYLE: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#1b1b1b}
nav{margin-bottom:1rem;padding-bottom:.5rem;border-bottom:1px solid #ccc}nav a{margin-right:1rem}
form.search{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:.3rem .8rem;align-items:center}
form.search button{grid-column:1/-1;justify-self:start}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top}
code,.mono{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
mark{background:#ffe066}.refused{color:#a40000}.note{color:#555}
";

fn layout(room: &Room, title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="referrer" content="no-referrer";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · tvault" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (nav(room, true))
                h1 { (title) }
                (body)
            }
        }
    }
    .into_string()
}

/// The bar at the top of every page. The conversation page gets it without
/// the day form: its policy (the export's) allows no form.
pub(crate) fn nav(room: &Room, with_form: bool) -> Markup {
    html! {
        nav {
            a href=(room.link("/", "")) { "Search" }
            @if with_form {
                form method="get" action="/day" style="display:inline" {
                    input type="hidden" name="token" value=(room.token);
                    label { "Day " input type="date" name="d"; }
                    " " button type="submit" { "Open" }
                }
            }
            span class="note" { " Times in " (room.zone.name()) ". Read-only: nothing here changes the vault." }
        }
    }
}

/// A page with a heading and one sentence.
pub(crate) fn message(room: &Room, status: StatusCode, title: &str, text: &str) -> Resp {
    html_resp(status, layout(room, title, html! { p { (text) } }))
}

/// The search filters of the query string; `Ok(None)` when none is given.
pub(crate) fn query_of(p: &Params, limit: usize) -> Result<Option<Query>, String> {
    let days = match (param(p, "from"), param(p, "to")) {
        (Some(a), Some(b)) => Some(DayRange::parse(a, b).map_err(|e| e.to_string())?),
        (None, None) => None,
        _ => return Err("give both From and To, or neither".into()),
    };
    let q = Query {
        text: param(p, "text").map(str::to_string),
        participant: param(p, "participant").map(str::to_string),
        days,
        media: param(p, "media").map(str::to_string),
        message_type: param(p, "message_type").map(str::to_string),
        limit,
    };
    let any = q.text.is_some()
        || q.participant.is_some()
        || q.days.is_some()
        || q.media.is_some()
        || q.message_type.is_some();
    Ok(any.then_some(q))
}

/// Run a search on the index and re-check every hit against the vault.
pub(crate) async fn run_search(
    room: &Room,
    q: Query,
) -> Result<(Found, Vec<Result<Checked, Refused>>), String> {
    let Some(dir) = room.index_dir.clone() else {
        return Err("this reading room was started without a search index".into());
    };
    let found = tokio::task::spawn_blocking(move || {
        tvault_search::open_for_reading(&dir).and_then(|c| tvault_search::search(&c, &q))
    })
    .await
    .map_err(|e| format!("the search stopped: {e}"))?
    .map_err(|e| e.to_string())?;
    let vault = room.vault.as_ref();
    let checked = futures::stream::iter(found.hits.clone())
        .map(|h| tvault_search::recheck(vault, h))
        .buffered(8)
        .collect()
        .await;
    Ok((found, checked))
}

fn snippet(s: &Snippet) -> Markup {
    html! {
        @if s.cut_before { "…" }
        @for seg in &s.segments {
            @if seg.matched { mark { (seg.text) } } @else { (seg.text) }
        }
        @if s.cut_after { "…" }
    }
}

pub(crate) async fn search(room: &Room, p: &Params) -> Resp {
    let field = |k: &str| param(p, k).unwrap_or("").to_string();
    let form = html! {
        form.search method="get" action="/" {
            input type="hidden" name="token" value=(room.token);
            label for="text" { "Text" }
            input #text type="search" name="text" value=(field("text")) placeholder="refund, \"exact phrase\", refu*";
            label for="participant" { "Participant" }
            input #participant type="search" name="participant" value=(field("participant")) placeholder="name, address or id";
            label for="from" { "From (UTC day)" }
            input #from type="date" name="from" value=(field("from"));
            label for="to" { "To (UTC day)" }
            input #to type="date" name="to" value=(field("to"));
            label for="media" { "Media" }
            select #media name="media" {
                @for (v, label) in [("", "any"), ("MESSAGE", "MESSAGE"), ("CHAT", "CHAT")] {
                    option value=(v) selected[field("media").eq_ignore_ascii_case(v)] { (label) }
                }
            }
            label for="message_type" { "Message type" }
            input #message_type type="search" name="message_type" value=(field("message_type")) placeholder="WEBMESSAGING, SMS, WHATSAPP, OPEN";
            button type="submit" { "Search" }
        }
    };
    let results = match query_of(p, PAGE_LIMIT) {
        Ok(None) => html! {},
        Err(e) => html! { p.refused { (e) } },
        Ok(Some(q)) => match run_search(room, q).await {
            Err(e) => html! { p.refused { (e) } },
            Ok((found, checked)) => results(room, p, &found, &checked),
        },
    };
    html_resp(
        StatusCode::OK,
        layout(room, "Search the vault", html! { (form) (results) }),
    )
}

fn results(room: &Room, p: &Params, found: &Found, checked: &[Result<Checked, Refused>]) -> Markup {
    let shown: Vec<&Checked> = checked.iter().filter_map(|c| c.as_ref().ok()).collect();
    let refused: Vec<&Refused> = checked.iter().filter_map(|c| c.as_ref().err()).collect();
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p.iter().filter(|(k, _)| k != "token"))
        .finish();
    html! {
        h2 { (shown.len()) " conversation(s)" @if found.more { " (more match: narrow the search)" } }
        @if !shown.is_empty() {
            p { a href=(room.link("/export.zip", &query)) { "Export these results (zip with SHA256SUMS)" } }
            table {
                thead { tr { th { "Day" } th { "Time" } th { "Conversation" } th { "Who" } th { "Snippet" } } }
                tbody {
                    @for c in &shown { (row(room, c)) }
                }
            }
        }
        @for r in &refused {
            p.refused { "Not shown: " (r.to_string()) }
        }
        @for c in &shown {
            @if let Some(s) = &c.stale { p.note { "Conversation " code { (c.hit.conversation) } ": " (s) } }
        }
    }
}

fn row(room: &Room, c: &Checked) -> Markup {
    let first = c.snippets.first();
    let (day, time) = first
        .and_then(|s| s.message.time.as_deref())
        .and_then(|t| room.zone.day_and_time(t))
        .unwrap_or_else(|| (c.hit.day.clone(), "–".into()));
    let who = first
        .and_then(|s| {
            s.message
                .sender_name
                .clone()
                .or_else(|| s.message.purpose.clone())
        })
        .or_else(|| {
            c.hit
                .people
                .iter()
                .find(|p| p.purpose.as_deref() == Some("customer"))
                .and_then(|p| p.name.clone())
        })
        .unwrap_or_else(|| "–".into());
    let href = room.link(&format!("/c/{}", c.hit.conversation), "");
    html! {
        tr {
            td { (day) } td { (time) }
            td { a href=(href) { code { (c.hit.conversation) } } }
            td { (who) }
            td { @if let Some(s) = first { (snippet(s)) } @if c.snippets.len() > 1 { " (+" (c.snippets.len() - 1) " more)" } }
        }
    }
}

/// One day of the date index: every conversation filed there, by its
/// latest readable generation.
pub(crate) async fn day(room: &Room, d: &str) -> Resp {
    let Ok(day) = parse_day(d) else {
        return message(
            room,
            StatusCode::BAD_REQUEST,
            "Not a day",
            "Give a day as YYYY-MM-DD.",
        );
    };
    let vault = room.vault.as_ref();
    let markers = match read::index_days(vault, [day], 4).await {
        Ok((m, _)) => m,
        Err(e) => {
            return message(
                room,
                StatusCode::BAD_GATEWAY,
                "The vault could not be read",
                &e.to_string(),
            );
        }
    };
    let mut by_conv: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in markers {
        by_conv
            .entry(m.conversation)
            .or_default()
            .push(m.generation);
    }
    let mut rows = Vec::new();
    for (conv, gens) in by_conv {
        let latest = match ConversationId::new(conv.as_str()) {
            Ok(id) => read::read_generations(vault, &id, &gens)
                .await
                .map_err(|e| e.to_string())
                .map(|g| g.into_latest().0),
            Err(e) => Err(e.to_string()),
        };
        rows.push((conv, latest));
    }
    let link_day = |d: Option<NaiveDate>| d.map(|d| room.link(&format!("/day/{d}"), ""));
    let (prev, next) = (link_day(day.pred_opt()), link_day(day.succ_opt()));
    let body = html! {
        p {
            @if let Some(p) = &prev { a href=(p) { "← previous day" } " " }
            @if let Some(n) = &next { a href=(n) { "next day →" } }
        }
        p.note { "Conversations the date index files under this UTC day (the day each ended)." }
        table {
            thead { tr { th { "Conversation" } th { "Media" } th { "Messages" } th { "Attachments" } th { "Ended" } th { "Generation" } } }
            tbody {
                @for (conv, latest) in &rows {
                    tr {
                        td { a href=(room.link(&format!("/c/{conv}"), "")) { code { (conv) } } }
                        @match latest {
                            Ok(Ok(Some(m))) => {
                                td { (m.conversation.media_type.as_deref().unwrap_or("–")) }
                                td { (m.conversation.message_count) }
                                td { (m.conversation.attachment_count)
                                    @if !m.missing.is_empty() { span.refused { " (" (m.missing.len()) " not in vault)" } } }
                                td { (m.conversation.end_time.as_deref().map(|t| room.zone.show(t)).unwrap_or_else(|| "–".into())) }
                                td { code { (m.generation) } }
                            }
                            Ok(Ok(None)) => { td.refused colspan="5" { "index marker without its manifest: an archive was interrupted before it committed" } }
                            Ok(Err(u)) => { td.refused colspan="5" { (u.to_string()) } }
                            Err(e) => { td.refused colspan="5" { (e) } }
                        }
                    }
                }
            }
        }
    };
    html_resp(StatusCode::OK, layout(room, &format!("Day {day}"), body))
}

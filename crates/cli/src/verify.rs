//! `tvault verify`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use tvault_core::days::DayRange;
use tvault_core::manifest::{Manifest, ObjectEntry};
use tvault_core::ports::{Vault, VaultError};
use tvault_core::read::{self, ReadError};
use tvault_core::{ConversationId, keys};

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, VerifyArgs};
use crate::progress::Progress;
use crate::term;
use crate::verify_report::{ObjectRow, Report, Status};

pub async fn run(vault_location: &str, args: VerifyArgs) -> Result<u8> {
    let started = std::time::Instant::now();
    let range = match (&args.from, &args.to) {
        (None, None) => None,
        (Some(from), Some(to)) => match DayRange::parse(from, to) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("tvault verify: {e}");
                return Ok(EXIT_USAGE);
            }
        },
        _ => {
            eprintln!("tvault verify: give both --from and --to, or neither");
            return Ok(EXIT_USAGE);
        }
    };
    let concurrency = args.concurrency as usize;
    let vault = crate::settings(vault_location)
        .await?
        .open_existing_vault()?;
    let vault = vault.as_ref();
    let mut problems: Vec<String> = Vec::new();
    // The same findings, one row per object, for --json-report/--csv-report.
    let mut rows: Vec<ObjectRow> = Vec::new();

    // The names to check: everything, or the conversations indexed on the
    // range's days (all their objects and generations) and those days' markers.
    let names: BTreeSet<String> = match range {
        // Streamed into the set: the listing itself is never held.
        None => vault
            .list_stream("")
            .map_ok(|l| l.path)
            .try_collect()
            .await
            .context("listing the vault")?,
        Some(range) => {
            let (markers, strays) = read::index_days(vault, range.days(), concurrency)
                .await
                .context("reading the date index")?;
            let convs: BTreeSet<&str> = markers.iter().map(|m| m.conversation.as_str()).collect();
            let mut names: BTreeSet<String> = markers.iter().map(|m| m.path.clone()).collect();
            names.extend(strays);
            let listed = conversation_objects(vault, convs, concurrency).await;
            names.extend(listed.names);
            problems.extend(listed.problems);
            rows.extend(listed.rows);
            names
        }
    };
    let found = examine(vault, &names, range.is_none(), concurrency).await;
    problems.extend(found.problems);
    rows.extend(found.rows);
    let provenance = found.provenance;

    // Object names come from whoever could write: escaped for the terminal.
    for line in provenance.iter().chain(&problems) {
        println!("{}", term::line(line));
    }
    println!(
        "verified {} manifest(s) of {} conversation(s), {} object(s){}: {} problem(s){}",
        found.manifests,
        found.conversations,
        found.objects,
        range.map(|r| format!(" indexed {r}")).unwrap_or_default(),
        problems.len(),
        if provenance.is_empty() {
            String::new()
        } else {
            format!(", {} unlisted provenance object(s)", provenance.len())
        }
    );
    let mut report = Report {
        vault_location,
        range,
        elapsed: started.elapsed(),
        manifests: found.manifests,
        generations: found.generations,
        rows,
    };
    if let Some(path) = &args.json_report {
        report.write_json(path)?;
    }
    if let Some(path) = &args.csv_report {
        report.write_csv(path)?;
    }
    // A verify that checked nothing proves nothing: most often the wrong
    // vault, or an archive that never wrote.
    if found.manifests == 0 && problems.is_empty() && !args.allow_empty {
        eprintln!(
            "tvault verify: no manifest to verify{}: is this the right vault? (--allow-empty accepts an empty one)",
            range.map(|r| format!(" indexed {r}")).unwrap_or_default()
        );
        return Ok(EXIT_FAILED);
    }
    Ok(if problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// What [`examine`] found.
pub struct Examined {
    /// One line each: `missing`, `corrupt`, `orphaned`, `unindexed`, `unreadable`.
    pub problems: Vec<String>,
    /// `unlisted provenance` lines (information).
    pub provenance: Vec<String>,
    pub manifests: usize,
    pub conversations: usize,
    pub objects: usize,
    /// The same findings, one row per object (verify's reports).
    pub rows: Vec<ObjectRow>,
    /// Each committed conversation and its number of generations.
    pub generations: BTreeMap<String, usize>,
}

/// What [`conversation_objects`] found.
pub struct Listed {
    pub names: BTreeSet<String>,
    /// A problem line for each conversation that cannot be listed.
    pub problems: Vec<String>,
    /// The same, as report rows.
    pub rows: Vec<ObjectRow>,
}

/// Every object of `conversations`, by listing their prefixes; and a problem
/// line (and report row) for each that cannot be listed.
pub async fn conversation_objects<'a>(
    vault: &dyn Vault,
    conversations: impl IntoIterator<Item = &'a str>,
    concurrency: usize,
) -> Listed {
    type One = Result<Vec<String>, (String, ObjectRow)>;
    let listings: Vec<One> = futures::stream::iter(conversations)
        .map(|c| async move {
            let id = ConversationId::new(c).map_err(|e| {
                let row = ObjectRow::new(
                    &format!("{}{c}/", keys::CONVERSATIONS),
                    Status::Orphaned,
                    format!("index marker with an invalid conversation id: {e}"),
                );
                (format!("orphaned index marker for {c:?}: {e}"), row)
            })?;
            let prefix = keys::conversation_prefix(&id);
            vault
                .list(&prefix)
                .await
                .map(|l| l.into_iter().map(|l| l.path).collect())
                .map_err(|e| {
                    let row = ObjectRow::new(&prefix, Status::Unreadable, e.to_string());
                    (format!("unreadable {prefix}: {e}"), row)
                })
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut listed = Listed {
        names: BTreeSet::new(),
        problems: Vec::new(),
        rows: Vec::new(),
    };
    for l in listings {
        match l {
            Ok(paths) => listed.names.extend(paths),
            Err((p, row)) => {
                listed.problems.push(p);
                listed.rows.push(row);
            }
        }
    }
    listed
}

/// Check the objects named `names` (a whole vault's, or some
/// conversations' and date-index markers'): every manifest read, every
/// object it lists re-hashed, markers against manifests, and the objects no
/// manifest lists. `whole_vault` adds the check that every manifest has its
/// marker (a range may not hold a generation's marker).
pub async fn examine(
    vault: &dyn Vault,
    names: &BTreeSet<String>,
    whole_vault: bool,
    concurrency: usize,
) -> Examined {
    let mut problems: Vec<String> = Vec::new();
    let mut rows: Vec<ObjectRow> = Vec::new();
    let manifest_paths: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|p| keys::parse_manifest(p).is_some())
        .collect();
    let progress = Progress::new(
        "verify: reading manifests",
        "manifests",
        manifest_paths.len() as u64,
    );
    let progress_ref = &progress;
    let read_manifests: Vec<(&str, Result<Manifest, String>)> =
        futures::stream::iter(manifest_paths)
            .map(|path| async move {
                // Junk under a manifest name (a writer credential can make
                // one; WORM keeps it) is reported, and the rest still checked.
                let m = vault
                    .get(path)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|b| read::manifest_at(path, &b));
                progress_ref.inc();
                (path, m)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    progress.finish();
    let mut manifests: Vec<Manifest> = Vec::new();
    for (path, m) in read_manifests {
        match m {
            Ok(m) => manifests.push(m),
            Err(reason) => {
                problems.push(format!("unreadable {path}: {reason}"));
                rows.push(ObjectRow::new(path, Status::Unreadable, reason));
            }
        }
    }
    manifests.sort_by(|a, b| {
        (&a.conversation_id, &a.generation).cmp(&(&b.conversation_id, &b.generation))
    });

    // Which generations each conversation has, for the index checks.
    let mut committed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &manifests {
        committed
            .entry(m.conversation_id.to_string())
            .or_default()
            .insert(m.generation.clone());
    }
    // One check per (path, sha256, size): two manifests that list one path
    // with different hashes are both checked (one of them must be wrong).
    let unique: BTreeMap<(&str, &str, u64), &ObjectEntry> = manifests
        .iter()
        .flat_map(|m| &m.objects)
        .map(|e| ((e.path.as_str(), e.sha256.as_str(), e.size), e))
        .collect();
    let referenced: BTreeSet<&str> = unique.keys().map(|(path, _, _)| *path).collect();

    let progress = Progress::new("verify: hashing objects", "objects", unique.len() as u64);
    let progress_ref = &progress;
    let mut checks = futures::stream::iter(unique.into_values())
        .map(|e| async move {
            let r = read::verify_entry(vault, e).await;
            progress_ref.inc();
            (e, r)
        })
        .buffer_unordered(concurrency);
    let mut objects = 0usize;
    let mut found: Vec<String> = Vec::new();
    while let Some((e, result)) = checks.next().await {
        objects += 1;
        let (status, detail) = match result {
            Ok(()) => (Status::Ok, String::new()),
            Err(ReadError::Vault(VaultError::NotFound { .. })) => {
                found.push(format!("missing {}", e.path));
                (Status::Missing, String::new())
            }
            Err(ReadError::Corrupt { path, reason }) => {
                found.push(format!("corrupt {path}: {reason}"));
                (Status::Corrupt, reason)
            }
            Err(other) => {
                found.push(format!("unreadable {}: {other}", e.path));
                (Status::Unreadable, other.to_string())
            }
        };
        let mut row = ObjectRow::new(&e.path, status, detail);
        row.sha256 = Some(e.sha256.clone());
        row.size = Some(e.size);
        rows.push(row);
    }
    drop(checks);
    progress.finish();
    found.sort();
    problems.extend(found);

    let mut indexed: BTreeSet<(String, String)> = BTreeSet::new();
    for path in names.iter().filter(|p| p.starts_with(keys::INDEX)) {
        let Some((_, conv, generation)) = keys::parse_index(path) else {
            problems.push(format!("orphaned {path}: not a date-index marker name"));
            rows.push(ObjectRow::new(
                path,
                Status::Orphaned,
                "not a date-index marker name",
            ));
            continue;
        };
        if committed.get(conv).is_some_and(|g| g.contains(generation)) {
            indexed.insert((conv.to_string(), generation.to_string()));
        } else {
            problems.push(format!("orphaned {path}: no manifest for this generation"));
            rows.push(ObjectRow::new(
                path,
                Status::Orphaned,
                "no manifest for this generation",
            ));
        }
    }
    // With a date range, a generation may be indexed on a day outside it; the
    // full run checks that every manifest has its marker.
    if whole_vault {
        for m in &manifests {
            if !indexed.contains(&(m.conversation_id.to_string(), m.generation.clone())) {
                let path = keys::manifest(&m.conversation_id, &m.generation);
                problems.push(format!("unindexed {path}"));
                rows.push(ObjectRow::new(
                    &path,
                    Status::Unindexed,
                    "no date-index marker",
                ));
            }
        }
    }
    // Unlisted objects. A raw payload of a conversation that has a manifest
    // is provenance of content already archived (another event about it, or
    // the loser of two deliveries racing to commit): checked by the sha16 in
    // its name and reported as information. Anything else is an orphan.
    let mut unlisted_sources: Vec<&str> = Vec::new();
    for path in names.iter().filter(|p| p.starts_with(keys::CONVERSATIONS)) {
        if keys::parse_manifest(path).is_some() || referenced.contains(path.as_str()) {
            continue;
        }
        match keys::parse_source(path) {
            Some((conv, _)) if committed.contains_key(conv) => unlisted_sources.push(path),
            _ => {
                problems.push(format!("orphaned {path}: no manifest lists it"));
                rows.push(ObjectRow::new(
                    path,
                    Status::Orphaned,
                    "no manifest lists it",
                ));
            }
        }
    }
    let mut provenance: Vec<String> = Vec::new();
    let mut checks = futures::stream::iter(unlisted_sources)
        .map(|path| async move { (path, check_by_name(vault, path).await) })
        .buffer_unordered(concurrency);
    while let Some((path, result)) = checks.next().await {
        match result {
            Ok(()) => {
                provenance.push(format!("unlisted provenance {path}"));
                rows.push(ObjectRow::new(path, Status::UnlistedProvenance, ""));
            }
            Err((status, problem)) => {
                rows.push(ObjectRow::new(path, status, problem.clone()));
                problems.push(problem);
            }
        }
    }
    drop(checks);
    provenance.sort();
    for path in names
        .iter()
        .filter(|p| !p.starts_with(keys::CONVERSATIONS) && !p.starts_with(keys::INDEX))
        // `tvault check`'s probe: written on purpose, outside the archive.
        .filter(|p| !p.starts_with(keys::HEALTHCHECK))
        // The sealed days' ledger: `tvault audit` checks it (chain, Merkle
        // roots, witness); it is part of the vault, not an orphan.
        .filter(|p| !p.starts_with(keys::LEDGER))
    {
        problems.push(format!("orphaned {path}: outside the vault layout"));
        rows.push(ObjectRow::new(
            path,
            Status::Orphaned,
            "outside the vault layout",
        ));
    }

    Examined {
        problems,
        provenance,
        manifests: manifests.len(),
        conversations: committed.len(),
        objects,
        rows,
        generations: committed
            .iter()
            .map(|(c, g)| (c.clone(), g.len()))
            .collect(),
    }
}

/// Hash an unlisted raw payload and compare it with the sha16 in its name
/// (`source/{name}.{sha16}.json`); the finding and problem line when it differs.
async fn check_by_name(vault: &dyn Vault, path: &str) -> Result<(), (Status, String)> {
    let Some((_, sha16)) = keys::parse_source(path) else {
        return Err((
            Status::Orphaned,
            format!("orphaned {path}: no manifest lists it"),
        ));
    };
    match read::hash_object(vault, path).await {
        Ok((sha, _)) if sha.starts_with(sha16) => Ok(()),
        Ok((sha, _)) => Err((
            Status::Corrupt,
            format!("corrupt {path}: sha256 {sha}, its name says {sha16}"),
        )),
        Err(ReadError::Vault(VaultError::NotFound { .. })) => {
            Err((Status::Missing, format!("missing {path}")))
        }
        Err(e) => Err((Status::Unreadable, format!("unreadable {path}: {e}"))),
    }
}

//! `tvault check`: a preflight of the vault, Genesys and the queue, one line
//! per check, each failure followed by its fix (as `vector validate` does).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use tvault_core::keys;
use tvault_core::ports::{Deadline, PutOutcome, Vault, VaultError};
use tvault_genesys::permissions::{Probe, Verdict};
use tvault_vault::Location;
use tvault_vault::azure::config::redact_url;

use crate::cli::{CheckArgs, EXIT_FAILED, EXIT_OK};
use crate::term;

/// How long one check may take: long enough for a slow Azure or login host,
/// short enough that a preflight answers while the operator waits.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// The marks of the three outcomes: symbols on a terminal, words for a log
/// or a script (which may grep for `FAIL`).
struct Marks {
    ok: &'static str,
    fail: &'static str,
    skip: &'static str,
}

struct Report {
    marks: Marks,
    failed: usize,
}

impl Report {
    fn ok(&mut self, what: &str) {
        println!("{} {}", self.marks.ok, term::line(what));
    }
    fn fail(&mut self, what: &str, reason: &str, fix: &str) {
        self.failed += 1;
        println!(
            "{} {}: {}",
            self.marks.fail,
            term::line(what),
            term::line(reason)
        );
        println!("    fix: {fix}");
    }
    fn skip(&mut self, what: &str, why: &str) {
        println!("{} {}: skipped, {why}", self.marks.skip, term::line(what));
    }
}

pub async fn run(vault_location: &str, args: CheckArgs) -> Result<u8> {
    let marks = if std::io::stdout().is_terminal() {
        Marks {
            ok: "✔",
            fail: "✘",
            skip: "-",
        }
    } else {
        Marks {
            ok: "ok  ",
            fail: "FAIL",
            skip: "skip",
        }
    };
    let mut report = Report { marks, failed: 0 };
    let settings = crate::settings(vault_location).await?;

    // The vault is named first, without a query string (a SAS `sig=`).
    let kind = match Location::parse(&settings.vault) {
        Ok(Location::Azure(_)) => "Azure Blob container",
        Ok(Location::Local(_)) => "local directory",
        Ok(Location::Memory) => "in-memory store (lost at exit)",
        Err(_) => "unknown kind",
    };
    println!(
        "vault: {} ({kind})",
        term::line(&redact_url(&settings.vault))
    );
    // A check never creates a local vault directory: a wrong path fails.
    match settings.open_existing_vault() {
        Ok(vault) => check_vault(vault.as_ref(), args.read_only, &mut report).await,
        Err(e) => report.fail(
            "vault can be opened",
            &format!("{:#}", anyhow::Error::from(e)),
            "set --vault (or TVAULT_VAULT) to the vault's directory, az://CONTAINER or https://ACCOUNT.blob.core.windows.net/CONTAINER, and its credential (docs/azure.md)",
        ),
    }
    check_genesys(&settings, &mut report).await;
    match &args.queue_url {
        Some(url) => check_queue(url, &mut report).await,
        None => report.skip("SQS queue and redrive policy", "no --queue-url given"),
    }

    if report.failed == 0 {
        println!("all checks passed");
        Ok(EXIT_OK)
    } else {
        println!("{} check(s) failed", report.failed);
        Ok(EXIT_FAILED)
    }
}

fn deadline() -> Deadline {
    Deadline::at(Instant::now() + CHECK_TIMEOUT)
}

/// The fix for a vault failure, by what the plain-language classification
/// (`tvault_vault::azure::failure`, already in the message) found.
fn vault_fix(e: &VaultError, right: &str) -> String {
    match e {
        VaultError::Access { .. } => format!(
            "give the credential the {right} right on the container (a SAS with sp={}, or an RBAC role that has it), or renew it if it expired (docs/azure.md)",
            match right {
                "create" => "rlc, never w or d",
                _ => "rl",
            }
        ),
        _ => "check the account and container name, that the container exists, and that this machine can reach the storage endpoint (firewall, private endpoint, DNS)".into(),
    }
}

async fn check_vault(vault: &dyn Vault, read_only: bool, report: &mut Report) {
    let probe = keys::healthcheck();
    // List: proves the endpoint answers, the container exists and the
    // credential may list.
    match tokio::time::timeout(CHECK_TIMEOUT, vault.list(keys::HEALTHCHECK)).await {
        Ok(Ok(_)) => report.ok("vault reachable, container found, can list"),
        Ok(Err(e)) => {
            report.fail(
                "vault reachable and can list",
                &e.to_string(),
                &vault_fix(&e, "list"),
            );
            // Nothing else can succeed where listing did not.
            report.skip("vault can read", "the vault could not be listed");
            report.skip("vault can create", "the vault could not be listed");
            return;
        }
        Err(_) => {
            report.fail(
                "vault reachable",
                &format!("no answer in {} s", CHECK_TIMEOUT.as_secs()),
                "check that this machine can reach the storage endpoint (firewall, proxy, DNS)",
            );
            return;
        }
    }
    // Read: the probe object (HEAD, then its bytes when it is there).
    match vault.exists(&probe).await {
        Ok(true) => match vault.get(&probe).await {
            Ok(b) if b.as_ref() == keys::HEALTHCHECK_BYTES => report.ok("vault can read"),
            Ok(_) => report.fail(
                "vault can read",
                &format!("{probe} holds other bytes than the probe's"),
                "someone wrote that name with other content: look at it, the vault's write-once rules did not hold",
            ),
            Err(e) => report.fail("vault can read", &e.to_string(), &vault_fix(&e, "read")),
        },
        Ok(false) => report.ok("vault can read (the probe object is not there yet)"),
        Err(e) => report.fail("vault can read", &e.to_string(), &vault_fix(&e, "read")),
    }
    if read_only {
        report.skip("vault can create", "--read-only");
        return;
    }
    // Create: through the vault's create-only writer. The name is the
    // hash of fixed bytes, so a second run finds it there: the writer's
    // conditional create (If-None-Match: *) is refused with 409 and the
    // stored bytes are compared (AlreadyPresent), while a credential
    // without the create right is refused with 403 before that, an Access
    // error. Nothing but this one object is ever left behind.
    let bytes = Bytes::from_static(keys::HEALTHCHECK_BYTES);
    match vault.put_new(&probe, bytes, "text/plain", deadline()).await {
        Ok(s) if s.outcome == PutOutcome::Created => {
            report.ok(&format!("vault can create (created {probe})"))
        }
        Ok(_) => report.ok(&format!(
            "vault can create ({probe} already there, same bytes)"
        )),
        Err(e) => report.fail("vault can create", &e.to_string(), &vault_fix(&e, "create")),
    }
}

async fn check_genesys(settings: &tvault_router::Settings, report: &mut Report) {
    let source = match settings.genesys() {
        Ok(Some(s)) => s,
        Ok(None) => {
            report.skip(
                "Genesys token",
                "GENESYSCLOUD_OAUTHCLIENT_ID, _SECRET and GENESYSCLOUD_REGION are not set (needed to archive lifecycle events and attachments)",
            );
            return;
        }
        Err(e) => {
            report.fail(
                "Genesys settings",
                &format!("{:#}", anyhow::Error::from(e)),
                "set all three of GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET and GENESYSCLOUD_REGION (or none)",
            );
            return;
        }
    };
    let login = source.endpoints().login.clone();
    match source.check_token(deadline()).await {
        Ok(()) => report.ok(&format!(
            "Genesys region and token: {login} issued a client-credentials token"
        )),
        Err(e) => {
            report.fail(
                &format!("Genesys region and token ({login})"),
                &e.to_string(),
                "check GENESYSCLOUD_REGION (the org's region, e.g. eu-west-1) and that the OAuth client (client credentials grant) and its secret are current",
            );
            report.skip("Genesys API permissions", "no token to probe them with");
            return;
        }
    }
    for (probe, verdict) in source.check_permissions(&deadline).await {
        report_permission(&probe, verdict, report);
    }
}

/// One line per API: whether the OAuth client's roles let it in (see
/// `tvault_genesys::permissions` for how that is told without changing
/// anything).
fn report_permission(probe: &Probe, verdict: Verdict, report: &mut Report) {
    let what = format!("Genesys permission for {} ({})", probe.api, probe.call);
    match verdict {
        Verdict::Granted { .. } => report.ok(&what),
        Verdict::Missing { permissions, code } => {
            let named = match permissions.as_slice() {
                [one] => format!("missing permission {one}"),
                many => format!("missing any one of the permissions {}", many.join(", ")),
            };
            let fix = match probe.grant {
                Some((permission, ui)) => format!(
                    "give the OAuth client's role the permission {permission} ({ui}), in every division whose conversations are archived (Admin > Roles/Permissions, then the client's Roles tab; docs/genesys.md)"
                ),
                // The SDK docs list no permission for this call: what is
                // missing is the one Genesys named, or division access.
                None => "give the OAuth client's role the permission Genesys named, and the divisions whose conversations are archived (docs/genesys.md)".into(),
            };
            report.fail(&what, &format!("Genesys refused: {named} ({code})"), &fix);
        }
        Verdict::TokenRefused { reason } => report.fail(
            &what,
            &format!("the API refused the token: {reason}"),
            "check that the OAuth client is active (not disabled since it issued the token) and belongs to this region's organization",
        ),
        Verdict::Unclear { reason } => report.fail(
            &what,
            &format!("could not tell: {reason}"),
            "run tvault check again; if Genesys keeps answering this, quote the ININ-Correlation-Id to Genesys support (and see status.mypurecloud.com)",
        ),
    }
}

async fn check_queue(url: &str, report: &mut Report) {
    let config = tvault_aws::sdk_config().await;
    let queue = tvault_aws::queue::Queue::new(&config, url);
    let shown = redact_url(url);
    let policy = match queue.redrive_policy().await {
        Ok(p) => {
            report.ok(&format!("SQS queue {shown} exists and can be read"));
            p
        }
        Err(e) => {
            report.fail(
                &format!("SQS queue {shown}"),
                &e.to_string(),
                "check --queue-url, the region (AWS_REGION) and that the credential may sqs:GetQueueAttributes on it",
            );
            return;
        }
    };
    let what = format!("SQS queue {shown} has a redrive policy to a dead-letter queue");
    let fix = "give the queue a redrive policy (deadLetterTargetArn of an existing queue, maxReceiveCount such as 5), so a message that keeps failing moves to the DLQ instead of cycling (docs/operations.md)";
    let Some(policy) = policy else {
        report.fail(&what, "the queue has no redrive policy", fix);
        return;
    };
    let parsed: serde_json::Value = serde_json::from_str(&policy).unwrap_or_default();
    let target = parsed["deadLetterTargetArn"].as_str();
    // SQS returns maxReceiveCount as a number or a string, depending on how
    // it was set.
    let max = match &parsed["maxReceiveCount"] {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    let (Some(target), Some(max)) = (target, max.filter(|m| *m >= 1)) else {
        report.fail(
            &what,
            &format!("the redrive policy has no deadLetterTargetArn or maxReceiveCount: {policy}"),
            fix,
        );
        return;
    };
    let dlq = match queue.by_arn(target).await {
        Ok(dlq) => dlq,
        Err(e) => {
            report.fail(&what, &e.to_string(), fix);
            return;
        }
    };
    match dlq.arn().await {
        Ok(_) => report.ok(&format!("{what}: {target} after {max} receive(s)")),
        Err(e) => report.fail(&what, &e.to_string(), fix),
    }
}

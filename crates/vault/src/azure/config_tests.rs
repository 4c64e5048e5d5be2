use super::*;

const KEY: &str = "c2VjcmV0LWtleS1ieXRlcw==";

fn build(cfg: AzureConfig) -> AzureSettings {
    cfg.build().unwrap()
}

fn refusal(cfg: AzureConfig) -> String {
    cfg.build().unwrap_err().to_string()
}

#[test]
fn https_url_gives_account_container_and_endpoint() {
    let s = build(
        AzureConfig::new("https://acct.blob.core.windows.net/vault")
            .with_var("AZURE_STORAGE_ACCOUNT_KEY", KEY),
    );
    assert_eq!(s.account, "acct");
    assert_eq!(s.container, "vault");
    assert_eq!(s.endpoint, "https://acct.blob.core.windows.net");
    assert_eq!(s.credential, Credential::AccessKey(Secret::new(KEY)));
    assert_eq!(
        s.blob_url("conversations/c1/a b.json"),
        "https://acct.blob.core.windows.net/vault/conversations/c1/a%20b.json"
    );
}

#[test]
fn az_url_takes_account_from_the_connection_string() {
    let s = build(AzureConfig::new("az://vault").with_connection_string(format!(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"
    )));
    assert_eq!(s.account, "acct");
    assert_eq!(s.endpoint, "https://acct.blob.core.windows.net");
    assert!(matches!(s.credential, Credential::AccessKey(_)));
}

#[test]
fn sas_connection_string_names_the_account_through_its_endpoint() {
    let s = build(AzureConfig::new("az://vault").with_connection_string(
        "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2024-01-01&sig=abc%3D",
    ));
    assert_eq!(s.account, "acct");
    assert_eq!(
        s.credential,
        Credential::Sas(Secret::new("sv=2024-01-01&sig=abc%3D"))
    );
}

#[test]
fn the_ra_grs_secondary_is_read_with_the_primary_accounts_credential() {
    let reader = "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2024-01-01&sp=rl&sig=abc%3D";
    for cfg in [
        AzureConfig::new("https://acct-secondary.blob.core.windows.net/vault")
            .with_connection_string(reader),
        AzureConfig::new("https://acct-secondary.blob.core.windows.net/vault").with_connection_string(
            format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"),
        ),
        AzureConfig::new("https://acct-secondary.blob.core.windows.net/vault")
            .with_var("AZURE_STORAGE_ACCOUNT_NAME", "acct")
            .with_var("AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=x"),
    ] {
        let s = build(cfg);
        assert_eq!(s.account, "acct", "signed for the primary account");
        assert_eq!(s.endpoint, "https://acct-secondary.blob.core.windows.net");
        assert_eq!(s.container, "vault");
    }
    let s = build(
        AzureConfig::new("http://127.0.0.1:10123/devstoreaccount1-secondary/vault")
            .with_connection_string("UseDevelopmentStorage=true"),
    );
    assert_eq!(s.account, DEV_ACCOUNT);
    assert_eq!(
        s.endpoint,
        "http://127.0.0.1:10123/devstoreaccount1-secondary"
    );
    // Another account's secondary still disagrees with the credential.
    let msg = refusal(
        AzureConfig::new("https://other-secondary.blob.core.windows.net/vault")
            .with_connection_string(reader),
    );
    assert!(msg.contains("make them agree"), "{msg}");
    assert_eq!(primary_of("https://a.blob.x.net"), "https://a.blob.x.net");
    assert_eq!(
        primary_of("https://-secondary.blob.x"),
        "https://-secondary.blob.x"
    );
}

#[test]
fn development_storage_means_azurite() {
    let s =
        build(AzureConfig::new("az://vault").with_connection_string("UseDevelopmentStorage=true"));
    assert_eq!(s.account, DEV_ACCOUNT);
    assert_eq!(s.endpoint, DEV_BLOB_ENDPOINT);
    assert!(s.is_plain_http());
    let s = build(
        AzureConfig::new("http://127.0.0.1:10123/devstoreaccount1/vault")
            .with_connection_string(format!(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:10123/devstoreaccount1;"
            )),
    );
    assert_eq!(s.endpoint, "http://127.0.0.1:10123/devstoreaccount1");
    assert_eq!(s.container, "vault");
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    let msg = refusal(
        AzureConfig::new("http://acct.blob.core.windows.net/vault")
            .with_var("AZURE_STORAGE_ACCOUNT_KEY", KEY),
    );
    assert!(msg.contains("plain http:// is refused"), "{msg}");
    let msg = refusal(
        AzureConfig::new("http://10.0.0.5:10000/devstoreaccount1/vault")
            .with_connection_string("UseDevelopmentStorage=true"),
    );
    assert!(msg.contains("plain http:// is refused"), "{msg}");
    for ok in [
        "http://localhost:10000/devstoreaccount1/vault",
        "http://[::1]:10000/devstoreaccount1/vault",
        "http://127.0.0.2:10000/devstoreaccount1/vault",
    ] {
        AzureConfig::new(ok)
            .with_var("AZURE_STORAGE_ACCOUNT_KEY", DEV_ACCOUNT_KEY)
            .build()
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn certificate_checks_cannot_be_turned_off() {
    let msg = refusal(
        AzureConfig::new("https://acct.blob.core.windows.net/vault")
            .with_var("AZURE_STORAGE_ACCOUNT_KEY", KEY)
            .with_var("AZURE_ALLOW_INVALID_CERTIFICATES", "true"),
    );
    assert!(
        msg.contains("unset AZURE_ALLOW_INVALID_CERTIFICATES"),
        "{msg}"
    );
}

#[test]
fn contradictions_and_gaps_get_one_sentence_naming_what_to_set() {
    let msg = refusal(
        AzureConfig::new("https://acct.blob.core.windows.net/vault")
            .with_connection_string(format!("AccountName=other;AccountKey={KEY}")),
    );
    assert!(
        msg.contains("\"acct\"") && msg.contains("\"other\"") && msg.contains("make them agree"),
        "{msg}"
    );
    let msg = refusal(AzureConfig::new("az://vault"));
    assert!(msg.contains("set AZURE_STORAGE_CONNECTION_STRING"), "{msg}");
    let msg = refusal(
        AzureConfig::new("az://vault")
            .with_connection_string(format!("AccountName=a;AccountKey={KEY}"))
            .with_var("AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=x"),
    );
    assert!(msg.contains("unset one"), "{msg}");
    let msg = refusal(
        AzureConfig::new("az://vault").with_connection_string(format!(
            "AccountName=a;AccountKey={KEY};SharedAccessSignature=sig=x"
        )),
    );
    assert!(msg.contains("keep one"), "{msg}");
    let msg = refusal(
        AzureConfig::new("az://Bad_Name").with_connection_string("UseDevelopmentStorage=true"),
    );
    assert!(msg.contains("not a container name"), "{msg}");
    let msg = refusal(AzureConfig::new(
        "https://acct.blob.core.windows.net/vault?sv=1&sig=s3cr3t",
    ));
    assert!(
        msg.contains("query string") && !msg.contains("s3cr3t"),
        "{msg}"
    );
}

#[test]
fn ambient_credentials_pass_the_identity_variables_through() {
    let s = build(
        AzureConfig::new("https://acct.blob.core.windows.net/vault")
            .with_var("AZURE_CLIENT_ID", "cid")
            .with_var("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token")
            .with_var("AZURE_FUNCTIONS_ENVIRONMENT", "ignored"),
    );
    assert_eq!(s.credential, Credential::Ambient);
    let keys: Vec<_> = s.passthrough.iter().map(|(k, _)| *k).collect();
    assert!(keys.contains(&AzureConfigKey::ClientId), "{keys:?}");
    assert!(
        keys.contains(&AzureConfigKey::FederatedTokenFile),
        "{keys:?}"
    );
}

#[test]
fn debug_output_never_shows_a_secret() {
    let cfg = AzureConfig::new("az://vault")
        .with_connection_string(format!("AccountName=acct;AccountKey={KEY}"))
        .with_var("AZURE_CLIENT_SECRET", "client-s3cret");
    let shown = format!("{cfg:?} {:?}", cfg.clone().build().unwrap());
    assert!(
        !shown.contains(KEY) && !shown.contains("client-s3cret"),
        "{shown}"
    );
    let broken =
        AzureConfig::new("az://vault").with_connection_string(format!("AccountName=acct;{KEY}"));
    let msg = refusal(broken);
    assert!(!msg.contains(KEY), "{msg}");
}

/// The marker every secret below carries; no message may show it.
const SIG: &str = "S1gN4tur3";

#[test]
fn configuration_errors_never_echo_a_sas_or_a_password() {
    let sas = format!("sv=2024-01-01&sp=rl&sig={SIG}%3D");
    let cases: Vec<(&str, AzureConfig)> = vec![
        (
            "a SAS in an az:// URL",
            AzureConfig::new(format!("az://vault?{sas}")),
        ),
        (
            "a password in a URL with a folder",
            AzureConfig::new(format!(
                "https://user:{SIG}@acct.blob.core.windows.net/vault/folder"
            )),
        ),
        (
            "a password in a loopback URL",
            AzureConfig::new(format!(
                "http://user:{SIG}@127.0.0.1:10000/devstoreaccount1/vault"
            ))
            .with_connection_string("UseDevelopmentStorage=true"),
        ),
        (
            "a SAS in a URL that does not parse",
            AzureConfig::new(format!("https://acct .blob.core.windows.net/vault?{sas}")),
        ),
        (
            "a SAS in a fragment",
            AzureConfig::new(format!("https://acct.blob.core.windows.net/vault#{sas}")),
        ),
        (
            "a SAS-carrying BlobEndpoint that disagrees with the URL",
            AzureConfig::new("https://acct.blob.core.windows.net/vault").with_connection_string(
                format!(
                    "BlobEndpoint=https://other.blob.core.windows.net/?{sas};SharedAccessSignature={sas}"
                ),
            ),
        ),
        (
            "a SAS-carrying BlobEndpoint on plain http",
            AzureConfig::new("az://vault").with_connection_string(format!(
                "BlobEndpoint=http://10.0.0.5:10000/devstoreaccount1?{sas};SharedAccessSignature={sas}"
            )),
        ),
        (
            "a SAS-carrying BlobEndpoint that would otherwise be used",
            AzureConfig::new("az://vault").with_connection_string(format!(
                "BlobEndpoint=https://acct.blob.core.windows.net/?{sas};AccountKey={KEY}"
            )),
        ),
        (
            "a password in a BlobEndpoint",
            AzureConfig::new("az://vault").with_connection_string(format!(
                "BlobEndpoint=https://u:{SIG}@acct.blob.core.windows.net;AccountKey={KEY}"
            )),
        ),
        (
            "a SAS in AZURE_STORAGE_ENDPOINT",
            AzureConfig::new("az://vault")
                .with_var("AZURE_STORAGE_ACCOUNT_NAME", "acct")
                .with_var(
                    "AZURE_STORAGE_ENDPOINT",
                    format!("https://acct.blob.core.windows.net?{sas}"),
                )
                .with_var("AZURE_STORAGE_SAS_TOKEN", sas.as_str()),
        ),
        (
            "a signature in a URL path",
            AzureConfig::new(format!(
                "https://acct.blob.core.windows.net/vault/sig={SIG}"
            )),
        ),
    ];
    for (what, cfg) in cases {
        let shown = cfg.url_without_query();
        assert!(!shown.contains(SIG), "{what}: {shown}");
        let msg = refusal(cfg);
        assert!(!msg.contains(SIG), "{what}: {msg}");
        assert!(!msg.to_lowercase().contains("sig="), "{what}: {msg}");
    }
}

#[test]
fn urls_in_messages_lose_user_info_query_and_fragment() {
    assert_eq!(
        redact_url("https://u:p@acct.blob.core.windows.net/vault?sv=1&sig=x"),
        "https://[redacted]@acct.blob.core.windows.net/vault?[redacted]"
    );
    assert_eq!(redact_url("az://vault#frag"), "az://vault?[redacted]");
    assert_eq!(
        redact_url("http://127.0.0.1:10000/devstoreaccount1/vault"),
        "http://127.0.0.1:10000/devstoreaccount1/vault"
    );
    assert_eq!(redact_url("s3://bucket/sig=abc"), "[redacted URL]");
}

//! The ledger's witness in AWS Systems Manager Parameter Store: the vault's
//! Azure administrators cannot rewrite what AWS keeps. One parameter per
//! sealed day, `{prefix}/{YYYY-MM-DD}`, whose value is the day's witness
//! line (`YYYY-MM-DD <SHA-256 of ledger/yyyy/mm/dd.json>`), written
//! create-only: `PutParameter` without `Overwrite`.
//!
//! Reading them back as a witness file for `tvault audit --witness`:
//! `aws ssm get-parameters-by-path --path PREFIX --query 'Parameters[].Value' --output text | tr '\t' '\n'`.

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;

/// A parameter prefix that cannot be used, or an SSM call that failed.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error(
        "TVAULT_WITNESS_SSM_PREFIX {0:?} is not an SSM parameter path: it must start with '/', not end with one, and hold only letters, digits and . _ - /"
    )]
    BadPrefix(String),
    #[error(
        "SSM parameter {name} already holds {held:?}, not {line:?}: the day's main ledger object is not the one witnessed before (audit the vault), or something else wrote the parameter"
    )]
    Conflict {
        name: String,
        held: String,
        line: String,
    },
    #[error("SSM {op} {name}: {message}")]
    Aws {
        op: &'static str,
        name: String,
        message: String,
    },
}

/// How recording a witness line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Witnessed {
    /// The parameter did not exist and now holds the line.
    Written,
    /// It held the same line already (the day was witnessed before).
    AlreadyThere,
}

/// Witness lines kept in SSM under one prefix.
#[derive(Debug, Clone)]
pub struct SsmWitness {
    client: aws_sdk_ssm::Client,
    prefix: String,
}

impl SsmWitness {
    /// Witness under `prefix` (`/tvault/ledger`), with the AWS configuration `config`.
    pub fn new(config: &aws_config::SdkConfig, prefix: &str) -> Result<Self, WitnessError> {
        let ok = prefix.starts_with('/')
            && !prefix.ends_with('/')
            && prefix.len() <= 900
            && !prefix.contains("//")
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
        if !ok {
            return Err(WitnessError::BadPrefix(prefix.to_string()));
        }
        Ok(Self {
            client: aws_sdk_ssm::Client::new(config),
            prefix: prefix.to_string(),
        })
    }

    /// `{prefix}/{day}`.
    pub fn parameter_name(&self, day: &str) -> String {
        format!("{}/{day}", self.prefix)
    }

    /// Keep `line` for `day` (`YYYY-MM-DD`), create-only: the same line
    /// there already is success, another line is [`WitnessError::Conflict`].
    pub async fn record(&self, day: &str, line: &str) -> Result<Witnessed, WitnessError> {
        let name = self.parameter_name(day);
        let put = self
            .client
            .put_parameter()
            .name(&name)
            .value(line)
            .r#type(ParameterType::String)
            .overwrite(false)
            .description("transcript-vault: SHA-256 of the day's main ledger object")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Witnessed::Written),
            Err(e) if e.code() == Some("ParameterAlreadyExists") => {
                let held = self.get(&name).await?;
                if held == line {
                    Ok(Witnessed::AlreadyThere)
                } else {
                    Err(WitnessError::Conflict {
                        name,
                        held,
                        line: line.to_string(),
                    })
                }
            }
            Err(e) => Err(WitnessError::Aws {
                op: "PutParameter",
                name,
                message: crate::error_text(&e),
            }),
        }
    }

    async fn get(&self, name: &str) -> Result<String, WitnessError> {
        let out = self
            .client
            .get_parameter()
            .name(name)
            .send()
            .await
            .map_err(|e| WitnessError::Aws {
                op: "GetParameter",
                name: name.to_string(),
                message: crate::error_text(&e),
            })?;
        Ok(out.parameter.and_then(|p| p.value).unwrap_or_default())
    }

    /// Every witness line under the prefix, sorted: a witness file.
    pub async fn lines(&self) -> Result<Vec<String>, WitnessError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .get_parameters_by_path()
            .path(&self.prefix)
            .recursive(false)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| WitnessError::Aws {
                op: "GetParametersByPath",
                name: self.prefix.clone(),
                message: crate::error_text(&e),
            })?;
            out.extend(
                page.parameters
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| p.value),
            );
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_must_be_a_parameter_path() {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        assert_eq!(
            SsmWitness::new(&config, "/tvault/ledger")
                .unwrap()
                .parameter_name("2026-09-20"),
            "/tvault/ledger/2026-09-20"
        );
        for bad in ["tvault", "/tvault/", "/a//b", "/a b", "/a\n", ""] {
            assert!(
                matches!(
                    SsmWitness::new(&config, bad),
                    Err(WitnessError::BadPrefix(_))
                ),
                "{bad:?}"
            );
        }
    }
}

//! Where an object store target is and how to sign in to it: the client `object_store` builds.

use crate::error::{StorageError, StorageErrorKind};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// Which kind of object store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// AWS S3 or an S3-compatible store (`s3://`).
    S3,
    /// Azure Blob Storage (`az://`).
    Azure,
}

impl Provider {
    /// The kind of store, for errors' remedies.
    pub fn store_kind(self) -> crate::error::StoreKind {
        match self {
            Provider::S3 => crate::error::StoreKind::S3,
            Provider::Azure => crate::error::StoreKind::Azure,
        }
    }
}

/// `s3://BUCKET[/PREFIX]` or `az://ACCOUNT/CONTAINER[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLocation {
    /// The kind of store.
    pub provider: Provider,
    /// The storage account (Azure only).
    pub account: Option<String>,
    /// The bucket (S3) or container (Azure).
    pub bucket: String,
    /// The folders under which the repository lives ("" for the bucket's root), '/'-separated.
    pub prefix: String,
}

impl ObjectLocation {
    /// The URL, as the operator writes it.
    pub fn url(&self) -> String {
        let mut s = match (self.provider, &self.account) {
            (Provider::S3, _) => format!("s3://{}", self.bucket),
            (Provider::Azure, a) => format!("az://{}/{}", a.as_deref().unwrap_or(""), self.bucket),
        };
        if !self.prefix.is_empty() {
            s.push('/');
            s.push_str(&self.prefix);
        }
        s
    }
}

/// How to reach and sign in to the store; what is `None` comes from the standard environment
/// (`AWS_*`, `AZURE_STORAGE_*`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ObjectCredentials {
    /// The service's URL (an S3-compatible store, Azurite: `http://127.0.0.1:10000/ACCOUNT`).
    pub endpoint: Option<String>,
    /// The S3 region.
    pub region: Option<String>,
    /// The S3 access key id.
    pub key_id: Option<String>,
    /// The S3 secret access key or the Azure account key.
    pub secret: Option<String>,
}

/// Requests are retried with exponential backoff (0.2 s doubling to 4 s), at most 5 times and never
/// past 60 s from the first try; then the export stops and the next one resumes.
pub(super) fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(4),
            base: 2.0,
        },
        max_retries: 5,
        retry_timeout: Duration::from_secs(60),
    }
}

fn options(endpoint: Option<&str>) -> ClientOptions {
    let http = endpoint.is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
    ClientOptions::new()
        .with_allow_http(http)
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(120))
}

/// The client for `loc`.
pub(super) fn build(
    loc: &ObjectLocation,
    creds: &ObjectCredentials,
) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let endpoint = creds.endpoint.as_deref();
    let built: object_store::Result<Arc<dyn ObjectStore>> = match loc.provider {
        Provider::S3 => {
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(&loc.bucket)
                .with_retry(retry())
                .with_client_options(options(endpoint));
            if let Some(e) = endpoint {
                b = b.with_endpoint(e);
            }
            if let Some(r) = &creds.region {
                b = b.with_region(r);
            }
            if let Some(k) = &creds.key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(s) = &creds.secret {
                b = b.with_secret_access_key(s);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        Provider::Azure => {
            let mut b = MicrosoftAzureBuilder::from_env()
                .with_account(loc.account.as_deref().unwrap_or(""))
                .with_container_name(&loc.bucket)
                .with_retry(retry())
                .with_client_options(options(endpoint));
            if let Some(e) = endpoint {
                b = b.with_endpoint(e.trim_end_matches('/').to_string());
            }
            let key = creds
                .secret
                .clone()
                .or_else(|| std::env::var("AZURE_STORAGE_KEY").ok());
            if let Some(k) = key {
                b = b.with_access_key(k);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
    };
    built.map_err(|e| {
        StorageError::new(
            StorageErrorKind::LogonFailure,
            loc.url(),
            format!("cannot set up the client: {e}; check --endpoint, --region and the key (for Azure the account key is base64, as the portal shows it)"),
        )
    })
}

//! A glue-local server on loopback with the shared moto server behind it, and SDK clients for both.

#![allow(dead_code)]

use std::net::SocketAddr;

use aws_sdk_glue::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_glue::error::ProvideErrorMetadata;
use glue_local::moto::{lease, Lease};
use glue_local::{s3_client, Server, Settings};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/GlueFindMatches";
pub const LABELS: &str = "labeling_set_id,label,id,first_name,last_name,city\n\
ABC123,A,1001,John,Doe,Seattle\nABC123,A,1002,Johnny,Doe,Seattle\nABC123,B,1004,Jane,Smith,Seattle\n";

pub struct Local {
    pub server: Server,
    pub glue: aws_sdk_glue::Client,
    pub s3: aws_sdk_s3::Client,
    pub lease: Lease,
}

impl Local {
    pub async fn start(settings: Settings) -> Local {
        let lease = lease().await.expect("moto");
        let s3 = s3_client(&lease.moto.url(), "us-east-1").await;
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = Server::start(addr, settings, s3.clone())
            .await
            .expect("glue-local");
        let glue = glue_client(&server.url());
        s3.create_bucket()
            .bucket("labels-bkt")
            .send()
            .await
            .expect("bucket");
        Local {
            server,
            glue,
            s3,
            lease,
        }
    }

    pub async fn put(&self, key: &str, body: &[u8]) {
        self.s3
            .put_object()
            .bucket("labels-bkt")
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .expect("put");
    }

    /// A CreateMLTransform request with everything Glue requires filled in.
    pub fn create_request(
        &self,
        name: &str,
    ) -> aws_sdk_glue::operation::create_ml_transform::builders::CreateMLTransformFluentBuilder
    {
        self.glue
            .create_ml_transform()
            .name(name)
            .role(ROLE)
            .input_record_tables(
                aws_sdk_glue::types::GlueTable::builder()
                    .database_name("db")
                    .table_name("persons")
                    .build()
                    .unwrap(),
            )
            .parameters(
                aws_sdk_glue::types::TransformParameters::builder()
                    .transform_type(aws_sdk_glue::types::TransformType::FindMatches)
                    .build()
                    .unwrap(),
            )
    }

    pub async fn create_transform(&self, name: &str) -> String {
        self.create_request(name)
            .send()
            .await
            .expect("create transform")
            .transform_id
            .unwrap()
    }

    /// Polls a task run until it leaves STARTING/RUNNING/STOPPING; returns every status seen.
    pub async fn wait(
        &self,
        transform_id: &str,
        task_run_id: &str,
    ) -> (
        Vec<String>,
        aws_sdk_glue::operation::get_ml_task_run::GetMlTaskRunOutput,
    ) {
        let mut seen: Vec<String> = Vec::new();
        for _ in 0..200 {
            let run = self
                .glue
                .get_ml_task_run()
                .transform_id(transform_id)
                .task_run_id(task_run_id)
                .send()
                .await
                .expect("get run");
            let status = run
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            if !matches!(status.as_str(), "STARTING" | "RUNNING" | "STOPPING") {
                return (seen, run);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("task run {task_run_id} did not finish: {seen:?}");
    }
}

pub fn glue_client(url: &str) -> aws_sdk_glue::Client {
    let config = aws_sdk_glue::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(url)
        .build();
    aws_sdk_glue::Client::from_conf(config)
}

/// The error code and message of a failed call.
pub fn code_and_message<E: ProvideErrorMetadata>(
    err: aws_sdk_glue::error::SdkError<E, aws_sdk_glue::config::http::HttpResponse>,
) -> (String, String) {
    (
        err.code().unwrap_or("?").to_string(),
        err.message().unwrap_or("?").to_string(),
    )
}

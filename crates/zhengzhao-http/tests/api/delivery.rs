//! Delivery (Art. 8): each new version goes to every configured channel's
//! webhook; failures are retried; the first success is the delivery time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::{Backend, TestApp};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use reqwest::Method;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zhengzhao_domain::role::Role;
use zhengzhao_http::config::DeliveryChannel;

#[derive(Default)]
struct Inbox {
    /// Every request received, failed or not.
    calls: Vec<Value>,
}

/// A webhook that refuses the first call for each license, then accepts.
async fn webhook(State(inbox): State<Arc<Mutex<Inbox>>>, Json(body): Json<Value>) -> AxumStatus {
    let mut inbox = inbox.lock().unwrap();
    let seen_before = inbox
        .calls
        .iter()
        .any(|c| c["license_id"] == body["license_id"]);
    inbox.calls.push(body);
    if seen_before {
        AxumStatus::OK
    } else {
        AxumStatus::SERVICE_UNAVAILABLE
    }
}

async fn receiver() -> (String, Arc<Mutex<Inbox>>) {
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(webhook))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

async fn delivered_after_a_retry(backend: Backend) {
    let (url, inbox) = receiver().await;
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.delivery_channels = vec![DeliveryChannel {
            name: "mengsuban".into(),
            url: url.clone(),
        }];
        c.delivery_poll = Duration::from_millis(50);
        c.delivery_retry_base = Duration::from_millis(100);
    })
    .await
    else {
        return;
    };
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let uscc = crate::common::holder_code_for("d-1");
    let body = crate::common::license_request("d-1");
    let issued: Value = app
        .send_json(Method::POST, "/api/v1/licenses", Some(&clerk), &body)
        .await
        .json()
        .await
        .unwrap();
    let id = issued["license_id"].as_str().unwrap().to_owned();
    assert!(issued["delivered_at"].is_null());

    let mut delivered = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let v: Value = app
            .get_as(&format!("/api/v1/licenses/{id}"), &clerk)
            .await
            .json()
            .await
            .unwrap();
        if !v["delivered_at"].is_null() {
            delivered = v;
            break;
        }
    }
    assert!(!delivered.is_null(), "not delivered within 5 s");
    let calls = inbox.lock().unwrap().calls.clone();
    assert_eq!(calls.len(), 2, "one refusal, one success: {calls:?}");
    assert_eq!(calls[1]["license_id"], id.as_str());
    assert_eq!(calls[1]["holder"]["id"], uscc.as_str());
    assert!(
        calls[1]["document"]["payload"]
            .as_str()
            .unwrap()
            .contains(&id)
    );
    assert!(
        calls[1]["document"]["certificate"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );

    let history: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/history"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let d = &history["deliveries"][0];
    assert_eq!(d["channel"], "mengsuban");
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["delivered_at"], delivered["delivered_at"]);
    let events = app.library.store.audit_events(0, 1000).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.action == "license.deliver")
            .count(),
        1
    );
}

#[tokio::test]
async fn delivered_after_a_retry_sqlite() {
    delivered_after_a_retry(Backend::Sqlite).await;
}

#[tokio::test]
async fn delivered_after_a_retry_postgres() {
    delivered_after_a_retry(Backend::Postgres).await;
}

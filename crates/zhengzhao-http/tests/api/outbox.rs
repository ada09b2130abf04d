//! The outbox relay (issue 14) over real HTTP to test receivers: the
//! regional and national platforms and a delivery channel. Each test runs
//! the relay's rounds itself (`OutboxRelay::run_once` with the server's
//! own webhook transport), and moves the server's clock instead of
//! sleeping through backoff; the servers' background relays have no
//! destinations configured, so they stay out of the way.

use crate::common::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zhengzhao_core::outbox::{DeliveryChannel, Destination, OutboxRelay};
use zhengzhao_domain::role::Role;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    event_id: String,
    signature: String,
    certificate_sm3: String,
    body: String,
    json: Value,
    answered: u16,
}

#[derive(Default)]
struct Inbox {
    got: Vec<Received>,
    /// Statuses to answer next, in order; then 200.
    script: VecDeque<u16>,
    /// Licenses whose messages are answered 500, always.
    broken: Vec<String>,
    /// Licenses whose messages are answered 422 until cleared.
    refused: Vec<String>,
    /// Licenses whose next message is answered 503, once.
    fail_once: Vec<String>,
}

impl Inbox {
    /// What was accepted (2xx), in order.
    fn accepted(&self) -> Vec<Received> {
        self.got
            .iter()
            .filter(|r| r.answered < 300)
            .cloned()
            .collect()
    }
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let text = String::from_utf8(body.to_vec()).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let mut inbox = inbox.lock().unwrap();
    let license = json["license_id"].as_str().unwrap_or_default().to_owned();
    let once = inbox.fail_once.iter().position(|l| *l == license);
    let answered = if let Some(i) = once {
        inbox.fail_once.remove(i);
        503
    } else if inbox.broken.contains(&license) {
        500
    } else if inbox.refused.contains(&license) {
        422
    } else {
        inbox.script.pop_front().unwrap_or(200)
    };
    inbox.got.push(Received {
        event_id: h("x-zz-event-id"),
        signature: h("x-zz-signature"),
        certificate_sm3: h("x-zz-certificate-sm3"),
        body: text,
        json,
        answered,
    });
    AxumStatus::from_u16(answered).unwrap()
}

async fn receiver() -> (String, Arc<Mutex<Inbox>>) {
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let app = axum::Router::new()
        .route("/in", axum::routing::post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

fn relay(app: &TestApp, destinations: Vec<Destination>, max_attempts: u32) -> OutboxRelay {
    OutboxRelay {
        library: app.library.clone(),
        destinations,
        transport: Arc::new(zhengzhao_http::webhook::WebhookTransport::new().unwrap()),
        retry_base: Duration::from_secs(10),
        max_attempts,
        lease: zhengzhao_core::outbox::LEASE,
    }
}

/// Rounds until one attempts nothing (at most `max`).
async fn drain(relay: &OutboxRelay, max: usize) {
    for _ in 0..max {
        if relay.run_once().await == 0 {
            return;
        }
    }
}

fn license_messages(inbox: &Arc<Mutex<Inbox>>, id_prefix: &str) -> Vec<Received> {
    inbox
        .lock()
        .unwrap()
        .accepted()
        .into_iter()
        .filter(|r| {
            r.json["license_id"]
                .as_str()
                .is_some_and(|l| l.starts_with(id_prefix))
        })
        .collect()
}

/// The license's identifier without its version and check character.
fn stream_of(id: &str) -> String {
    let parts: Vec<&str> = id.split('.').collect();
    parts[..parts.len() - 2].join(".")
}

async fn entries(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app.get_as(&format!("/api/v1/outbox{query}"), token).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Issue → delivered to the platforms (catalog too) and the channel, signed
/// by the region (checked with OpenSSL), in the national share-data shape;
/// a 503 is retried after backoff; a 422 is rejected, holds back only that
/// license, and goes once replayed; a broken receiver parks the message.
async fn relay_end_to_end(app: TestApp) {
    let (platform_url, platform) = receiver().await;
    let (national_url, national) = receiver().await;
    let (channel_url, channel) = receiver().await;
    let relay = relay(
        &app,
        vec![
            Destination::platform(&platform_url),
            Destination::national_platform(&national_url),
            Destination::channel(&DeliveryChannel {
                name: "mengsuban".into(),
                url: channel_url,
            }),
        ],
        3,
    );
    relay.register().await.unwrap();
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let admin = app.token("150000", Role::RegionAdmin).await;
    // A catalog change goes to the platforms (not to the channel).
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/catalog",
            Some(&admin),
            &license_type("11100000000013338W301", "测试推送证照"),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let first = app.issue(&clerk, &license_request("ob-1")).await;
    let other = app.issue(&clerk, &license_request("ob-2")).await;
    let id = first["license_id"].as_str().unwrap().to_owned();
    let other_id = other["license_id"].as_str().unwrap().to_owned();
    channel.lock().unwrap().fail_once.push(id.clone());

    drain(&relay, 5).await;
    // The platform got the seeded catalog and both licenses, in order.
    let got = platform.lock().unwrap().accepted();
    let kinds: Vec<&str> = got
        .iter()
        .map(|r| r.json["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let catalog = got
        .iter()
        .find(|r| r.json["kind"] == "catalog.changed")
        .unwrap();
    assert_eq!(catalog.json["type_code"], "11100000000013338W301");
    assert_eq!(catalog.json["license_type"]["name"], "测试推送证照");
    let issued = got
        .iter()
        .find(|r| r.json["license_id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(issued.json["kind"], "license.issued");
    assert_eq!(issued.json["event_id"], issued.event_id.as_str());
    let rec = &issued.json["record"];
    assert_eq!(rec["certificate_identifier"], id.as_str());
    assert_eq!(rec["certificate_source_id"], id.as_str());
    assert_eq!(rec["certificate_type_code"], BUSINESS_LICENSE);
    assert_eq!(
        rec["certificate_holder_code"],
        holder_code_for("ob-1").as_str()
    );
    assert_eq!(rec["certificate_holder_type_code"], "001");
    assert_eq!(rec["certificate_area_code"], "150102");
    assert_eq!(rec["certificate_status"], "valid");
    assert!(rec["extend_info"]["name"].is_string());
    assert!(
        issued.json["document"]["payload"]
            .as_str()
            .unwrap()
            .contains(&id)
    );
    // The signature is the region's, over the exact body (OpenSSL checks it).
    let certs: Value = app.get("/api/v1/certificates").await.json().await.unwrap();
    let region_cert = certs["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["certificate"].as_str().unwrap().to_owned())
        .find(|pem| {
            use sm3::Digest;
            hex::encode(sm3::Sm3::digest(pem.as_bytes())) == issued.certificate_sm3
        })
        .expect("the signing certificate is listed");
    let out = openssl_verify(&issued.body, &issued.signature, &region_cert);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tampered = issued.body.replace("license.issued", "license.revoked");
    assert!(
        !openssl_verify(&tampered, &issued.signature, &region_cert)
            .status
            .success()
    );
    // The national platform got the same messages.
    assert_eq!(national.lock().unwrap().accepted().len(), got.len());

    // The channel refused once (503): pending, attempt counted, not delivered.
    let ch = entries(&app, &admin, "?destination=channel:mengsuban").await;
    let refused_once = ch.iter().find(|e| e["license_id"] == id.as_str()).unwrap();
    assert_eq!(refused_once["state"], "pending");
    assert_eq!(refused_once["attempts"], 1);
    assert_eq!(refused_once["last_error"], "HTTP 503");
    let view: Value = app
        .get_as(&format!("/api/v1/licenses/{id}"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert!(view["delivered_at"].is_null());
    // Channel rows carry license changes only.
    assert!(ch.iter().all(|e| e["kind"] != "catalog.changed"));
    // After the backoff (at most 10 s), it goes.
    app.clock.advance(Duration::from_secs(11));
    drain(&relay, 5).await;
    let view: Value = app
        .get_as(&format!("/api/v1/licenses/{id}"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert!(view["delivered_at"].is_string(), "{view}");
    let history: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/history"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let d = &history["deliveries"][0];
    assert_eq!(
        (
            d["channel"].as_str(),
            d["status"].as_str(),
            d["attempts"].as_i64()
        ),
        (Some("mengsuban"), Some("delivered"), Some(2))
    );
    let to_channel: Vec<String> = channel
        .lock()
        .unwrap()
        .got
        .iter()
        .filter(|r| r.json["license_id"] == id.as_str())
        .map(|r| r.event_id.clone())
        .collect();
    assert_eq!(to_channel.len(), 2);
    assert_eq!(
        to_channel[0], to_channel[1],
        "the retry carries the same event id"
    );

    // An update the platform refuses (422): rejected, not retried; the
    // license's revocation waits behind it; the other license goes on.
    let upd = app
        .update_domicile(&clerk, &id, "呼和浩特市新城区新华大街2号")
        .await;
    platform.lock().unwrap().refused.push(upd.clone());
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{upd}/revoke"),
            Some(&clerk),
            &json!({"reason": "测试注销"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let other_upd = app
        .update_domicile(&clerk, &other_id, "呼和浩特市新城区新华大街3号")
        .await;
    drain(&relay, 5).await;
    app.clock.advance(Duration::from_secs(3600));
    drain(&relay, 5).await;
    let stream = stream_of(&id);
    let got = license_messages(&platform, &stream);
    let kinds: Vec<&str> = got
        .iter()
        .map(|r| r.json["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["license.issued"],
        "the revocation waits behind the rejected update"
    );
    assert!(
        license_messages(&platform, &stream_of(&other_id))
            .iter()
            .any(|r| r.json["license_id"] == other_upd.as_str())
    );
    let rejected = entries(&app, &admin, "?state=rejected").await;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["destination"], "platform");
    assert_eq!(rejected[0]["last_error"], "HTTP 422");
    assert_eq!(rejected[0]["attempts"], 1, "a rejection is not retried");

    // Fixed at the platform, replayed: the update, then the revocation.
    platform.lock().unwrap().refused.clear();
    let rid = rejected[0]["id"].as_i64().unwrap();
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/outbox/{rid}/replay"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = app
        .send_json(
            Method::POST,
            &format!("/api/v1/outbox/{rid}/replay"),
            Some(&admin),
            &json!({}),
        )
        .await;
    expect_problem(again, StatusCode::CONFLICT).await;
    drain(&relay, 5).await;
    let kinds: Vec<String> = license_messages(&platform, &stream)
        .iter()
        .map(|r| r.json["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["license.issued", "license.updated", "license.revoked"]
    );
    assert_eq!(
        license_messages(&platform, &stream)[2].json["record"]["certificate_status"],
        "revoked"
    );

    // A receiver that keeps failing: parked after three attempts, audited.
    let third = app.issue(&clerk, &license_request("ob-3")).await;
    let third_id = third["license_id"].as_str().unwrap().to_owned();
    national.lock().unwrap().broken.push(third_id.clone());
    for _ in 0..4 {
        drain(&relay, 5).await;
        app.clock.advance(Duration::from_secs(3600));
    }
    let parked = entries(&app, &admin, "?state=parked&destination=national_platform").await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(
        (
            parked[0]["license_id"].as_str(),
            parked[0]["attempts"].as_i64()
        ),
        (Some(third_id.as_str()), Some(3))
    );
    let sent = national
        .lock()
        .unwrap()
        .got
        .iter()
        .filter(|r| r.json["license_id"] == third_id.as_str())
        .count();
    assert_eq!(sent, 3);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(
            "zhengzhao_outbox_messages{destination=\"national_platform\",state=\"parked\"} 1"
        ),
        "{metrics}"
    );
    let failed = app
        .get_as("/api/v1/audit/events?action=outbox.deliver", &admin)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        failed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == "failed")
    );
    // Over the API the row, not its body (the holder's data in full).
    let one: Value = app
        .get_as(&format!("/api/v1/outbox/{}", parked[0]["id"]), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["state"], "parked");
    assert!(
        one.get("body").is_none() && !one.to_string().contains("certificate_holder"),
        "{one}"
    );
    let (entry, body) = app
        .library
        .show_outbox(parked[0]["id"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(entry.state, "parked");
    assert_eq!(body["license_id"], third_id.as_str());

    // Only the region's administrators see or replay the relay's rows.
    for (org, role) in [
        ("150100", Role::RegionAdmin),
        ("150000", Role::Auditor),
        ("150102", Role::IssuerClerk),
    ] {
        let token = app.token(org, role).await;
        let r = app.get_as("/api/v1/outbox", &token).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{org} {role:?}");
        let r = app
            .send_json(
                Method::POST,
                &format!("/api/v1/outbox/{rid}/replay"),
                Some(&token),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{org} {role:?}");
    }
    assert_eq!(
        app.get("/api/v1/outbox").await.status(),
        StatusCode::UNAUTHORIZED
    );
}
both_backends!(outbox_relay, relay_end_to_end);

/// A receiver that applies a message and then fails to answer gets it
/// again with the same event id; applied once by event id, nothing is lost
/// or reordered per license.
async fn applied_but_unanswered(app: TestApp) {
    let (url, inbox) = receiver().await;
    let relay = relay(&app, vec![Destination::platform(&url)], 12);
    relay.register().await.unwrap();
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let l = app
            .issue(&clerk, &license_request(&format!("au-{i}")))
            .await;
        let id = l["license_id"].as_str().unwrap().to_owned();
        app.update_domicile(&clerk, &id, "呼和浩特市回民区中山西路1号")
            .await;
        ids.push(id);
    }
    // Every third request: applied, answered 500 (as if the answer was lost).
    inbox.lock().unwrap().script = (0..300)
        .map(|i| if i % 3 == 0 { 500 } else { 200 })
        .collect();
    for _ in 0..20 {
        drain(&relay, 5).await;
        app.clock.advance(Duration::from_secs(3600));
    }
    let inbox = inbox.lock().unwrap().got.clone();
    // What the receiver applied, by event id once each (its own dedupe).
    let mut applied: Vec<&Received> = Vec::new();
    for r in &inbox {
        if !applied.iter().any(|a| a.event_id == r.event_id) {
            applied.push(r);
        }
    }
    let resent = inbox.len() - applied.len();
    assert!(
        resent > 0,
        "some answers were lost, so some messages came twice"
    );
    for id in &ids {
        let kinds: Vec<&str> = applied
            .iter()
            .filter(|r| {
                r.json["license_id"]
                    .as_str()
                    .is_some_and(|l| l.starts_with(&stream_of(id)))
            })
            .map(|r| r.json["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["license.issued", "license.updated"], "{id}");
    }
    // Every message ended delivered.
    let summary = app.library.outbox_summary().await.unwrap();
    let p = summary
        .iter()
        .find(|s| s.destination == "platform")
        .unwrap();
    assert_eq!(
        (p.pending, p.in_flight, p.rejected, p.parked),
        (0, 0, 0, 0),
        "{p:?}"
    );
}
both_backends!(outbox_at_least_once, applied_but_unanswered);

/// Two servers on one PostgreSQL database drain one outbox together: no
/// message is delivered by both, none is left behind.
#[tokio::test]
async fn two_servers_drain_one_outbox() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("skipped: the PostgreSQL half is skipped on purpose");
        return;
    };
    let second = first.join().await;
    let (url, inbox) = receiver().await;
    let clerk = first.token("150102", Role::IssuerClerk).await;
    for i in 0..40 {
        first
            .issue(&clerk, &license_request(&format!("tw-{i}")))
            .await;
    }
    let a = relay(&first, vec![Destination::platform(&url)], 12);
    let b = relay(&second, vec![Destination::platform(&url)], 12);
    a.register().await.unwrap();
    b.register().await.unwrap();
    for _ in 0..20 {
        let (x, y) = tokio::join!(a.run_once(), b.run_once());
        if x + y == 0 {
            break;
        }
    }
    let got = inbox.lock().unwrap().got.clone();
    let mut ids: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "a message was delivered twice");
    let licenses = got
        .iter()
        .filter(|r| r.json["kind"] == "license.issued")
        .count();
    assert_eq!(licenses, 40);
    let summary = first.library.outbox_summary().await.unwrap();
    let p = summary
        .iter()
        .find(|s| s.destination == "platform")
        .unwrap();
    assert_eq!((p.pending, p.in_flight), (0, 0));
}

/// A receiver that hangs past the client's timeout, or closes the
/// connection without answering, is tried again later; nothing is lost,
/// each license still arrives once as one event.
async fn hanging_and_closing_receivers(app: TestApp) {
    // Closes every connection on the first request, then behaves.
    let rude = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rude_addr = rude.local_addr().unwrap();
    let (url, inbox) = receiver().await;
    let closed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let closing = closed.clone();
    let forward = url.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = rude.accept().await else {
                return;
            };
            if closing.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3 {
                // Read the start of the request, then hang up with no answer.
                let mut buf = [0u8; 64];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                drop(socket);
                continue;
            }
            // Then pass the request on to the well-behaved receiver.
            let forward = forward.clone();
            tokio::spawn(async move {
                let _ = proxy(socket, &forward).await;
            });
        }
    });
    let clerk = app.token("150102", Role::IssuerClerk).await;
    for i in 0..3 {
        app.issue(&clerk, &license_request(&format!("hc-{i}")))
            .await;
    }
    let relay = OutboxRelay {
        library: app.library.clone(),
        destinations: vec![Destination::platform(&format!("http://{rude_addr}/in"))],
        transport: Arc::new(
            zhengzhao_http::webhook::WebhookTransport::with_timeout(Duration::from_millis(500))
                .unwrap(),
        ),
        retry_base: Duration::from_secs(10),
        max_attempts: 12,
        lease: zhengzhao_core::outbox::LEASE,
    };
    relay.register().await.unwrap();
    for _ in 0..6 {
        drain(&relay, 3).await;
        app.clock.advance(Duration::from_secs(3600));
    }
    let failed = entries(
        &app,
        &app.token("150000", Role::RegionAdmin).await,
        "?destination=platform",
    )
    .await;
    assert!(
        failed.iter().all(|e| e["state"] == "delivered"),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|e| e["attempts"].as_i64().unwrap() > 1),
        "some were tried again"
    );
    assert!(closed.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    let got = inbox.lock().unwrap().accepted();
    let mut events: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
    events.sort_unstable();
    events.dedup();
    assert_eq!(events.len(), 3, "each license once");

    // A receiver slower than the client's limit: a timeout, tried again.
    let (slow_url, slow) = slow_receiver(Duration::from_secs(2)).await;
    let slow_relay = OutboxRelay {
        destinations: vec![Destination::national_platform(&slow_url)],
        ..relay
    };
    slow_relay.register().await.unwrap();
    drain(&slow_relay, 2).await;
    let national = entries(
        &app,
        &app.token("150000", Role::RegionAdmin).await,
        "?destination=national_platform",
    )
    .await;
    assert_eq!(national.len(), 3);
    assert!(
        national.iter().all(|e| e["state"] == "pending"),
        "{national:?}"
    );
    assert!(
        national[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("request failed"),
        "{national:?}"
    );
    assert!(
        slow.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the receiver saw them"
    );
}
both_backends!(outbox_rude_receivers, hanging_and_closing_receivers);

/// Forward one HTTP request from `socket` to `url` and its answer back.
async fn proxy(mut socket: tokio::net::TcpStream, url: &str) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut upstream = tokio::net::TcpStream::connect(target).await?;
    let (mut a_read, mut a_write) = socket.split();
    let (mut b_read, mut b_write) = upstream.split();
    let up = async {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = a_read.read(&mut buf).await?;
            if n == 0 {
                return b_write.shutdown().await;
            }
            b_write.write_all(&buf[..n]).await?;
        }
    };
    let down = tokio::io::copy(&mut b_read, &mut a_write);
    let _ = tokio::join!(up, down);
    Ok(())
}

/// A receiver that takes `delay` before it answers 200; counts requests.
async fn slow_receiver(delay: Duration) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move || {
            let count = count.clone();
            async move {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                AxumStatus::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

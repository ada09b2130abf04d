//! QR presentation (亮证) over HTTP: made by the issuing org's clerk, the
//! scan shows exactly the chosen fields and is on the audit record; the QR
//! code (checked with zbarimg) holds the verify URL; expired, used and
//! forged tokens get a clear answer and no data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

async fn presentations(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("QR-1")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/licenses/{id}/presentations");
    let make = |body: Value, token: String| {
        let (app, path) = (&app, path.clone());
        async move {
            app.send_json(Method::POST, &path, Some(&token), &body)
                .await
        }
    };

    // Only the issuing org's clerks make them; unknown fields are refused.
    for (org, role) in [
        ("150102", Role::Auditor),
        ("150103", Role::IssuerClerk),
        ("150000", Role::RegionAdmin),
    ] {
        let r = make(json!({"fields": ["name"]}), app.token(org, role).await).await;
        expect_problem(r, StatusCode::FORBIDDEN).await;
    }
    let r = make(json!({"fields": ["no_such_field"]}), clerk.clone()).await;
    assert_eq!(
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"],
        "fields"
    );

    let r = make(
        json!({"fields": ["name", "domicile"], "single_use": true}),
        clerk.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    let token = p["token"].as_str().unwrap().to_owned();
    assert!(
        p["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/verify/p/{token}"))
    );

    // The QR code holds the URL: zbarimg reads it back.
    let png = app
        .get(&format!("/api/v1/presentations/{token}/qr.png"))
        .await;
    assert_eq!(png.headers()["content-type"], "image/png");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("qr.png");
    std::fs::write(&file, png.bytes().await.unwrap()).unwrap();
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&file)
        .output()
        .expect("zbarimg (zbar-tools) must be installed: ./scripts/test installs it");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        p["url"].as_str().unwrap()
    );
    let svg = app
        .get(&format!("/api/v1/presentations/{token}/qr.svg"))
        .await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));

    // The scan shows exactly the chosen fields, and is recorded.
    let before = app.audit_count().await;
    let r = app.get(&format!("/api/v1/presentations/{token}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let shown: Value = r.json().await.unwrap();
    assert_eq!(shown["license"]["status"], "valid");
    let names: Vec<&str> = shown["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["name", "domicile"]);
    assert_eq!(shown["fields"][1]["label"], "住所");
    assert!(
        !shown.to_string().contains("张三"),
        "the legal representative was not chosen"
    );
    assert_eq!(app.audit_count().await, before + 1);
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    assert_eq!(events.last().unwrap().event.action, "presentation.scan");

    // Single use: the second scan is refused, with no data.
    let r = app.get(&format!("/api/v1/presentations/{token}")).await;
    let gone = expect_problem(r, StatusCode::GONE).await;
    assert!(gone.get("license").is_none());
    let page = app.get(&format!("/verify/p/{token}")).await;
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("已过期或已使用"));

    // Forged: one character changed.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let r = app.get(&format!("/api/v1/presentations/{forged}")).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app
        .get(&format!("/api/v1/presentations/{forged}/qr.png"))
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Reusable only when asked for, shown on the page in Chinese; then it
    // expires.
    let r = make(
        json!({"fields": ["name"], "ttl_secs": 60, "single_use": false}),
        clerk.clone(),
    )
    .await;
    let p: Value = r.json().await.unwrap();
    let token = p["token"].as_str().unwrap();
    let page = app.get(&format!("/verify/p/{token}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("持证主体出示的信息") && html.contains("呼和浩特市青城科技有限公司"));
    assert_eq!(
        app.get(&format!("/api/v1/presentations/{token}"))
            .await
            .status(),
        StatusCode::OK
    );
    // A minute, by the server's clock (so a slow machine cannot expire the
    // code before the first scans).
    app.clock.advance(std::time::Duration::from_secs(61));
    let r = app.get(&format!("/api/v1/presentations/{token}")).await;
    assert!(
        expect_problem(r, StatusCode::GONE).await["detail"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}
both_backends!(presentation, presentations);

/// The access log, captured: every event of this process's server code and
/// its HTTP layers, as the log would print them.
fn captured_log() -> &'static std::sync::Mutex<Vec<u8>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{Layer, filter};
    static LOG: std::sync::OnceLock<&'static std::sync::Mutex<Vec<u8>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static std::sync::Mutex<Vec<u8>> =
            Box::leak(Box::new(std::sync::Mutex::new(Vec::new())));
        struct Writer(&'static std::sync::Mutex<Vec<u8>>);
        impl std::io::Write for Writer {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || Writer(log))
            .with_filter(filter::filter_fn(|m| {
                (m.target().starts_with("zhengzhao") || m.target().starts_with("tower_http"))
                    && *m.level() <= tracing::Level::DEBUG
            }));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .unwrap();
        log
    })
}

/// A presentation is single-use unless asked otherwise, and its token (a
/// capability) never reaches the access log or the audit log.
async fn presentation_tokens_stay_secret(app: TestApp) {
    let log = captured_log();
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("QR-LOG")).await;
    let id = issued["license_id"].as_str().unwrap();
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{id}/presentations"),
            Some(&clerk),
            &json!({"fields": ["name"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["single_use"], true);
    let token = p["token"].as_str().unwrap().to_owned();

    // Every route that carries it: the picture, the page, the API; the
    // default code is good for one scan.
    let png = app
        .get(&format!("/api/v1/presentations/{token}/qr.png"))
        .await;
    assert_eq!(png.status(), StatusCode::OK);
    let page = app.get(&format!("/verify/p/{token}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let again = app.get(&format!("/api/v1/presentations/{token}")).await;
    expect_problem(again, StatusCode::GONE).await;
    let page = app.get(&format!("/verify/p/{token}")).await;
    assert_eq!(page.status(), StatusCode::GONE);
    // A forged one is refused, and not logged either.
    let forged = format!("{token}x");
    let r = app.get(&format!("/api/v1/presentations/{forged}")).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    let signature = token.split_once('.').unwrap().1.to_owned();
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        text.contains("/api/v1/presentations/<redacted>/qr.png")
            && text.contains("/verify/p/<redacted>"),
        "the access log records the redacted paths"
    );
    for secret in [&token, &forged, &signature] {
        assert!(!text.contains(secret.as_str()), "token in the log:\n{text}");
    }
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    let events = serde_json::to_string(&events).unwrap();
    assert!(events.contains("presentation.scan"));
    assert!(!events.contains(&signature), "token in the audit log");
}
both_backends!(presentation_secrecy, presentation_tokens_stay_secret);

/// A picture of a QR code as a browser's file upload.
async fn upload_picture(app: &TestApp, picture: &[u8]) -> reqwest::Response {
    let boundary = "zhengzhao-scan-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"qr.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(picture);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/verify/scan"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Scanning by picture: the library's own presentation code leads to its
/// check page; another site's link dressed as ours, a picture without a
/// code and a file that is no picture are refused on the page, and nobody
/// is sent elsewhere.
async fn scanning_a_picture(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("SCAN-1")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let made: Value = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{id}/presentations"),
            Some(&clerk),
            &json!({"fields": ["name"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let url = made["url"].as_str().unwrap();
    let r = upload_picture(&app, &zhengzhao_render::qr_png(url, 6).unwrap()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/verify/p/") && url.ends_with(&to), "{to}");
    let page = app.get(&to).await.text().await.unwrap();
    assert!(
        page.contains("呼和浩特市青城科技有限公司"),
        "the scan shows the chosen field"
    );

    // The printed license's code, by identifier alone, leads to its page.
    let r = upload_picture(&app, &zhengzhao_render::qr_png(&id, 6).unwrap()).await;
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/verify/{id}")
    );

    for (picture, says) in [
        (
            zhengzhao_render::qr_png(&format!("https://evil.example/verify/{id}"), 6).unwrap(),
            "不是本库的证照核验码",
        ),
        (
            zhengzhao_render::qr_png(&format!("{url}/../../admin"), 6).unwrap(),
            "不是本库的证照核验码",
        ),
        (
            // Encoded dots that a browser would read as going up a level.
            zhengzhao_render::qr_png(
                &format!(
                    "{}/verify/%2e%2e/holder/requests/x",
                    url.split("/verify/p/").next().unwrap()
                ),
                6,
            )
            .unwrap(),
            "不是本库的证照核验码",
        ),
        (b"%PDF-1.4 not a picture".to_vec(), "无法识别上传的图片"),
    ] {
        let r = upload_picture(&app, &picture).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains(says), "{says}");
    }
}
both_backends!(scan_picture, scanning_a_picture);

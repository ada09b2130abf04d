//! Objections (issue 15, Art. 19): intake from the public and from channels,
//! the flag while open, routing, the workflow with its working-day
//! deadlines, a correction as a new signed version, the answer, and what
//! bad input and the wrong callers get.

use crate::common::*;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_core::Actor;
use zhengzhao_core::outbox::{DeliveryChannel, Destination};
use zhengzhao_core::signed_request::{body_sm3_hex, sign, string_to_sign_for};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn objection(license_id: &str) -> Value {
    json!({
        "license_id": license_id,
        "kind": "accuracy",
        "fields": ["domicile"],
        "statement": "住所已于上月迁至新城区某某路99号，执照上仍是旧址。",
        "applicant": {"role": "holder", "name": "李四", "phone": "13800000000"}
    })
}

async fn post(app: &TestApp, token: Option<&str>, path: &str, body: Value) -> reqwest::Response {
    app.send_json(Method::POST, path, token, &body).await
}

async fn ok(r: reqwest::Response, status: StatusCode) -> Value {
    let got = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn public_check(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/verify/{id}")).await,
        StatusCode::OK,
    )
    .await
}

/// Entry `index` of the signed status list `purpose` (checked with OpenSSL).
async fn list_entry(app: &TestApp, purpose: &str, size: usize, index: i64) -> u8 {
    let list = ok(
        app.get(&format!("/api/v1/status-lists/{purpose}")).await,
        StatusCode::OK,
    )
    .await;
    crate::verify::entry(&crate::verify::read_list(&list, purpose), size, index)
}

async fn objections_stored(app: &TestApp) -> i64 {
    app.raw_count("SELECT count(*) FROM objections").await
}

fn adjust(c: &mut zhengzhao_http::ServerConfig) {
    // Room for an attachment over the limit, to see it refused by the rule.
    c.max_body_bytes = 2 * 1024 * 1024;
    c.objection_track_per_minute = 6;
}

async fn objection_flow(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("ob-1")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();

    // Bad input: a clear problem, and nothing stored.
    let audit_before = app.audit_count().await;
    let parsed = zhengzhao_domain::license_id::LicenseId::parse(&id).unwrap();
    let missing = zhengzhao_domain::license_id::LicenseId::new(
        &zhengzhao_domain::codes::LicenseTypeCode::parse(BUSINESS_LICENSE).unwrap(),
        &zhengzhao_domain::codes::CreditCode::parse(parsed.issuer_code()).unwrap(),
        "0190F0E2A1B27C3D8E9F0A1B2C3D4E5F",
        1,
    )
    .unwrap()
    .to_string();
    let r = post(&app, None, "/api/v1/objections", objection(&missing)).await;
    expect_problem(r, StatusCode::NOT_FOUND).await;
    let mut no_kind = objection(&id);
    no_kind.as_object_mut().unwrap().remove("kind");
    expect_problem(
        post(&app, None, "/api/v1/objections", no_kind).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut unknown_field = objection(&id);
    unknown_field["fields"] = json!(["domicile", "favourite_colour"]);
    let p = expect_problem(
        post(&app, None, "/api/v1/objections", unknown_field).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p.to_string().contains("fields/1"), "{p}");
    for (name, bytes, why) in [
        ("scan.pdf", PNG, "a PNG named .pdf"),
        (
            "scan.png",
            b"just text, not an image".as_slice(),
            "text named .png",
        ),
        ("scan.exe", PDF, "a PDF named .exe"),
    ] {
        let mut disguised = objection(&id);
        disguised["attachments"] = json!([{"name": name, "content_base64": b64(bytes)}]);
        let p = expect_problem(
            post(&app, None, "/api/v1/objections", disguised).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(p.to_string().contains("attachments/0"), "{why}: {p}");
    }
    let mut big = objection(&id);
    let mut huge = PDF.to_vec();
    huge.resize(600 * 1024, b' ');
    big["attachments"] = json!([{"name": "big.pdf", "content_base64": b64(&huge)}]);
    expect_problem(
        post(&app, None, "/api/v1/objections", big).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(objections_stored(&app).await, 0);
    assert_eq!(
        app.audit_count().await,
        audit_before,
        "a refused submission leaves no trace"
    );

    // A public submission with a PNG and a PDF.
    let mut body = objection(&id);
    body["attachments"] = json!([{"name": "租赁合同.pdf", "content_base64": b64(PDF)}, {"name": "门牌.png", "content_base64": b64(PNG)}]);
    let sub = ok(
        post(&app, None, "/api/v1/objections", body).await,
        StatusCode::CREATED,
    )
    .await;
    let ticket = sub["ticket"].as_str().unwrap().to_owned();
    let code = sub["tracking_code"].as_str().unwrap().to_owned();
    assert_eq!(sub["state"], "submitted");
    assert!(sub["due_on"].is_string(), "{sub}");
    assert_eq!(
        public_check(&app, &id).await["under_objection"],
        false,
        "flagged from acceptance, not before"
    );

    // Tracking: the right code only; a wrong code and a wrong ticket look alike.
    let track = |t: &str, c: &str| json!({"ticket": t, "tracking_code": c});
    let wrong = expect_problem(
        post(
            &app,
            None,
            "/api/v1/objections/track",
            track(&ticket, "WRONGCODE2345678"),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let no_ticket = expect_problem(
        post(
            &app,
            None,
            "/api/v1/objections/track",
            track("YY20990101-ABCDEF", &code),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(wrong["detail"], no_ticket["detail"]);
    let seen = ok(
        post(
            &app,
            None,
            "/api/v1/objections/track",
            track(&ticket, &code),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen["state"], "submitted");
    assert!(
        !seen.to_string().contains("李四") && !seen.to_string().contains("13800000000"),
        "{seen}"
    );
    // At rest the applicant's name, phone and statement are sealed (the
    // kind, stored plain beside them, shows the query reads the data).
    let stored = |text: &str| {
        format!("SELECT count(*) FROM objections WHERE CAST(data AS TEXT) LIKE '%{text}%'")
    };
    assert_eq!(app.raw_count(&stored("accuracy")).await, 1);
    for clear in ["李四", "13800000000", "住所已于上月迁至"] {
        assert_eq!(
            app.raw_count(&stored(clear)).await,
            0,
            "{clear} stored in the clear"
        );
    }

    // Who handles it: objection handlers of the issuing org or above.
    let base = format!("/api/v1/objections/{ticket}");
    let handler = app.token("150102", Role::ObjectionHandler).await;
    let elsewhere = app.token("150103", Role::ObjectionHandler).await;
    let city = app.token("150100", Role::ObjectionHandler).await;
    expect_problem(
        post(&app, Some(&clerk), &format!("{base}/accept"), json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_problem(
        post(&app, Some(&elsewhere), &format!("{base}/accept"), json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_problem(app.get_as(&base, &elsewhere).await, StatusCode::FORBIDDEN).await;
    let view = ok(app.get_as(&base, &city).await, StatusCode::OK).await;
    assert_eq!(
        view["applicant"]["name"], "李四",
        "handlers see the applicant"
    );
    assert_eq!(view["attachments"].as_array().unwrap().len(), 2);
    let r = app.get_as(&format!("{base}/attachments/1"), &handler).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    expect_problem(
        app.get_as(&format!("{base}/attachments/1"), &clerk).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // A step out of order.
    expect_problem(
        post(
            &app,
            Some(&handler),
            &format!("{base}/investigate"),
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;

    // Two handlers accept at once: one wins, the other is told.
    let accept = format!("{base}/accept");
    let (a, b) = tokio::join!(
        post(&app, Some(&handler), &accept, json!({})),
        post(&app, Some(&city), &accept, json!({})),
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);

    // 异议标注: the public check and relying parties see the flag.
    let check = public_check(&app, &id).await;
    assert_eq!(check["under_objection"], true, "{check}");
    assert_eq!(check["objection_fields"], json!(["domicile"]));
    // The staff view says so too.
    let staff_view = ok(
        app.get_as(&format!("/api/v1/licenses/{id}"), &clerk).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(staff_view["under_objection"], true);
    // … and the signed status lists: `message` 3 (under objection) and
    // the `suspension` bit, at the index the document names.
    let index = app
        .library
        .find_license(&id)
        .await
        .unwrap()
        .0
        .current()
        .unwrap()
        .status_index;
    assert_eq!(list_entry(&app, "message", 2, index).await, 3);
    assert_eq!(list_entry(&app, "suspension", 1, index).await, 1);
    let rp = app.token("150000", Role::RelyingParty).await;
    let holder = holder_code_for("ob-1");
    let shared = ok(
        post(&app, Some(&rp), "/api/v1/shared/queries", json!({"holder_id": holder, "type_code": BUSINESS_LICENSE, "use_cause": "开立对公账户"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shared["licenses"][0]["under_objection"], true, "{shared}");

    // Investigate, then correct: an update whose reason names the objection.
    ok(
        post(
            &app,
            Some(&handler),
            &format!("{base}/investigate"),
            json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let (license, _) = app.library.find_license(&id).await.unwrap();
    let mut face = license.current().unwrap().face.clone();
    face["domicile"] = json!("内蒙古自治区呼和浩特市新城区某某路99号");
    let update = |kind: &str, objection: &str| {
        json!({"face": face, "valid_from": "2024-01-15", "valid_until": null,
        "reason": {"kind": kind, "text": "依异议更正住所", "objection": objection}})
    };
    let path = format!("/api/v1/licenses/{id}/versions");
    expect_problem(
        post(&app, Some(&clerk), &path, update("change", &ticket)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_problem(
        post(
            &app,
            Some(&clerk),
            &path,
            update("correction", "YY20990101-ABCDEF"),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let v2 = ok(
        post(&app, Some(&clerk), &path, update("correction", &ticket)).await,
        StatusCode::CREATED,
    )
    .await;
    let v2_id = v2["license_id"].as_str().unwrap().to_owned();
    assert_ne!(v2_id, id);
    let history = ok(
        app.get_as(&format!("/api/v1/licenses/{v2_id}/history"), &clerk)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        history.to_string().contains(&ticket),
        "the history names the objection: {history}"
    );

    // Decide: `corrected` must name the correcting version.
    let decide = |license_id: Option<&str>| json!({"outcome": "corrected", "finding": "住所登记有误，已更正", "license_id": license_id});
    expect_problem(
        post(
            &app,
            Some(&handler),
            &format!("{base}/decide"),
            decide(None),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_problem(
        post(
            &app,
            Some(&handler),
            &format!("{base}/decide"),
            decide(Some(&id)),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let decided = ok(
        post(
            &app,
            Some(&handler),
            &format!("{base}/decide"),
            decide(Some(&v2_id)),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(decided["state"], "corrected");
    assert_eq!(
        public_check(&app, &v2_id).await["under_objection"],
        false,
        "the flag goes with the decision"
    );
    let v2_index = app
        .library
        .find_license(&v2_id)
        .await
        .unwrap()
        .0
        .current()
        .unwrap()
        .status_index;
    assert_eq!(
        list_entry(&app, "message", 2, index).await,
        1,
        "the first version is superseded"
    );
    assert_eq!(list_entry(&app, "message", 2, v2_index).await, 0);
    assert_eq!(
        list_entry(&app, "suspension", 1, index).await
            + list_entry(&app, "suspension", 1, v2_index).await,
        0
    );

    // The answer, seen on the tracking page; then archived.
    ok(
        post(
            &app,
            Some(&handler),
            &format!("{base}/answer"),
            json!({"text": "经核实，住所已更正，新版执照已签发。"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let seen = ok(
        post(
            &app,
            None,
            "/api/v1/objections/track",
            track(&ticket, &code),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen["state"], "answered");
    assert_eq!(seen["outcome"], "corrected");
    assert!(seen["answer"].as_str().unwrap().contains("已更正"));
    let archived = ok(
        post(&app, Some(&handler), &format!("{base}/archive"), json!({})).await,
        StatusCode::OK,
    )
    .await;
    let steps: Vec<&str> = archived["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "submitted",
            "accepted",
            "investigating",
            "corrected",
            "answered",
            "archived"
        ]
    );
    // Every step an audit event.
    let events = app
        .raw_count(&format!(
            "SELECT count(*) FROM audit_events WHERE target = 'objection:{ticket}'"
        ))
        .await;
    assert_eq!(events, 7, "six steps and one attachment read");

    // A second objection, kept: the flag comes and goes.
    let mut body = objection(&v2_id);
    body["kind"] = json!("timeliness");
    body["fields"] = json!(["business_scope"]);
    let t2 = ok(
        post(&app, None, "/api/v1/objections", body).await,
        StatusCode::CREATED,
    )
    .await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let b2 = format!("/api/v1/objections/{t2}");
    ok(
        post(&app, Some(&handler), &format!("{b2}/accept"), json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        public_check(&app, &v2_id).await["objection_fields"],
        json!(["business_scope"])
    );
    let kept = ok(
        post(
            &app,
            Some(&handler),
            &format!("{b2}/decide"),
            json!({"outcome": "kept", "finding": "经营范围与登记一致"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["state"], "kept");
    assert_eq!(public_check(&app, &v2_id).await["under_objection"], false);

    // A third, refused as out of scope, then answered.
    let t3 = ok(
        post(&app, None, "/api/v1/objections", objection(&v2_id)).await,
        StatusCode::CREATED,
    )
    .await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let b3 = format!("/api/v1/objections/{t3}");
    expect_problem(
        post(
            &app,
            Some(&handler),
            &format!("{b3}/refuse"),
            json!({"reason": ""}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    ok(
        post(
            &app,
            Some(&handler),
            &format!("{b3}/refuse"),
            json!({"reason": "同一事项已有异议在办"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        public_check(&app, &v2_id).await["under_objection"],
        false,
        "a refused objection never flags"
    );
    let listed = ok(
        app.get_as("/api/v1/objections?state=refused", &handler)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        ok(
            app.get_as("/api/v1/objections", &elsewhere).await,
            StatusCode::OK
        )
        .await
        .as_array()
        .unwrap()
        .is_empty(),
        "another org sees none"
    );
    expect_problem(
        app.get_as("/api/v1/objections", &rp).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Tracking is rate-limited per address (6 a minute here): guessing stops.
    let mut limited = false;
    for _ in 0..8 {
        let r = post(
            &app,
            None,
            "/api/v1/objections/track",
            track(&t3, "GUESS23456789ABC"),
        )
        .await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        expect_problem(r, StatusCode::NOT_FOUND).await;
    }
    assert!(limited, "tries beyond the limit get 429");
}

both_backends_with!(objections_end_to_end, objection_flow, adjust);

type Inbox = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

/// A webhook receiver that keeps every body and answers 200.
async fn inbox() -> (String, Inbox) {
    let got: Inbox = Default::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move |body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock()
                    .unwrap()
                    .push(serde_json::from_slice::<Value>(&body).unwrap());
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// The objection messages a receiver got.
fn objection_bodies(inbox: &Inbox) -> Vec<Value> {
    inbox
        .lock()
        .unwrap()
        .iter()
        .filter(|b| {
            b["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("objection."))
        })
        .cloned()
        .collect()
}

/// A channel's client (the 12345 hotline), signing every request.
async fn channel_post(
    app: &TestApp,
    token: &str,
    key: &str,
    body: &Value,
    nonce: Option<&str>,
) -> reqwest::Response {
    channel_post_for(app, token, key, body, nonce, None).await
}

/// `channel_post`, acting for `holder` (`uscc:…`) when given.
async fn channel_post_for(
    app: &TestApp,
    token: &str,
    key: &str,
    body: &Value,
    nonce: Option<&str>,
    holder: Option<&str>,
) -> reqwest::Response {
    let path = "/api/v1/objections";
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = jiff::Timestamp::now().as_second().to_string();
    let nonce = nonce
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let text = string_to_sign_for("POST", path, &ts, &nonce, &body_sm3_hex(&bytes), holder);
    let mut req = app.client.post(app.url(path));
    if let Some(h) = holder {
        req = req.header("x-zz-on-behalf-of", h);
    }
    req.bearer_auth(token)
        .header("x-zz-timestamp", &ts)
        .header("x-zz-nonce", &nonce)
        .header("x-zz-signature", sign(key, &text).unwrap())
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn objection_channels_and_national_route(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("ob-ch")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let region = OrgCode::parse("150000").unwrap();
    let (_, token, key) = app
        .library
        .create_token_with(&Actor::cli(), &region, Role::Channel, "12345热线", true)
        .await
        .unwrap();
    let key = key.unwrap();

    let mut body = objection(&id);
    body["channel"] = json!("hotline_12345");
    body["channel_reference"] = json!("12345-20261205-0042");
    let first = ok(
        channel_post(&app, &token, &key, &body, Some("nonce-once-000001")).await,
        StatusCode::CREATED,
    )
    .await;
    // The same signed request again is a replay: refused, nothing stored.
    let r = channel_post(&app, &token, &key, &body, Some("nonce-once-000001")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A forged signature: refused.
    let r = channel_post(&app, &token, "not-the-key", &body, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The same reference, properly signed again: the same objection.
    let again = ok(
        channel_post(&app, &token, &key, &body, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["ticket"], first["ticket"]);
    assert!(again["tracking_code"].is_null());
    assert_eq!(objections_stored(&app).await, 1);
    // Acting for a holder, a channel objects to that holder's licenses only
    // (another's is not found, so nothing about it leaks).
    let mut for_holder = body.clone();
    for_holder["channel_reference"] = json!("12345-20261205-0043");
    let stranger = format!("uscc:{}", holder_code_for("someone-else"));
    expect_problem(
        channel_post_for(&app, &token, &key, &for_holder, None, Some(&stranger)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let owner = format!("uscc:{}", holder_code_for("ob-ch"));
    ok(
        channel_post_for(&app, &token, &key, &for_holder, None, Some(&owner)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(objections_stored(&app).await, 2);
    // Without its reference a channel is refused; the public may not claim one.
    let mut no_ref = body.clone();
    no_ref.as_object_mut().unwrap().remove("channel_reference");
    expect_problem(
        channel_post(&app, &token, &key, &no_ref, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_problem(
        post(&app, None, "/api/v1/objections", body.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Other tokens do not submit for a channel.
    expect_problem(
        post(&app, Some(&clerk), "/api/v1/objections", objection(&id)).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // The answer goes back through the outbox to the hotline's channel.
    let ticket = first["ticket"].as_str().unwrap();
    let handler = app.token("150102", Role::ObjectionHandler).await;
    let base = format!("/api/v1/objections/{ticket}");
    ok(
        post(&app, Some(&handler), &format!("{base}/accept"), json!({})).await,
        StatusCode::OK,
    )
    .await;
    ok(
        post(
            &app,
            Some(&handler),
            &format!("{base}/decide"),
            json!({"outcome": "undetermined", "finding": "双方材料不一致，暂无法认定"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.raw_count("SELECT count(*) FROM outbox WHERE topic = 'objection:hotline_12345'")
            .await,
        0
    );
    ok(
        post(
            &app,
            Some(&handler),
            &format!("{base}/answer"),
            json!({"text": "暂无法认定，已记录异议与核查意见。"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.raw_count("SELECT count(*) FROM outbox WHERE topic = 'objection:hotline_12345'")
            .await,
        1
    );
    // The relay carries it to the delivery channel of that name, signed.
    let (hotline_url, hotline) = inbox().await;
    let (other_url, other) = inbox().await;
    let relay = zhengzhao_core::outbox::OutboxRelay {
        library: app.library.clone(),
        destinations: vec![
            Destination::channel(&DeliveryChannel {
                name: "hotline_12345".into(),
                url: hotline_url,
            }),
            Destination::channel(&DeliveryChannel {
                name: "mobile_app".into(),
                url: other_url,
            }),
        ],
        transport: std::sync::Arc::new(zhengzhao_http::webhook::WebhookTransport::new().unwrap()),
        retry_base: std::time::Duration::from_secs(10),
        max_attempts: 3,
        lease: zhengzhao_core::outbox::LEASE,
    };
    relay.register().await.unwrap();
    while relay.run_once().await > 0 {}
    let answers = objection_bodies(&hotline);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["kind"], "objection.answered");
    assert_eq!(answers[0]["ticket"], ticket);
    assert_eq!(answers[0]["channel_reference"], "12345-20261205-0042");
    assert_eq!(answers[0]["outcome"], "undetermined");
    assert!(
        objection_bodies(&other).is_empty(),
        "another channel hears nothing of it"
    );

    // Another province's license: the national route, handled by the region.
    let foreign_issuer =
        zhengzhao_domain::codes::CreditCode::with_check_character("91110108MA01ABCDE").unwrap();
    let foreign = zhengzhao_domain::license_id::LicenseId::new(
        &zhengzhao_domain::codes::LicenseTypeCode::parse(BUSINESS_LICENSE).unwrap(),
        &foreign_issuer,
        "0190F0E2A1B27C3D8E9F0A1B2C3D4E5F",
        1,
    )
    .unwrap();
    let sub = ok(
        post(
            &app,
            None,
            "/api/v1/objections",
            objection(foreign.as_str()),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(sub["route"], "national");
    assert_eq!(
        app.raw_count("SELECT count(*) FROM outbox WHERE topic = 'objection:national'")
            .await,
        1
    );
    let nt = sub["ticket"].as_str().unwrap();
    let nb = format!("/api/v1/objections/{nt}");
    expect_problem(
        post(
            &app,
            Some(&handler),
            &format!("{nb}/answer"),
            json!({"text": "x"}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let region_handler = app.token("150000", Role::ObjectionHandler).await;
    expect_problem(
        post(
            &app,
            Some(&region_handler),
            &format!("{nb}/accept"),
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    let answered = ok(
        post(
            &app,
            Some(&region_handler),
            &format!("{nb}/answer"),
            json!({"text": "该证照由外省签发，已转全国一体化政务服务平台处理。"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(answered["state"], "answered");
}

both_backends!(objection_channels, objection_channels_and_national_route);

/// The first Wednesday of March of `year`.
fn first_wednesday_of_march(year: i16) -> jiff::civil::Date {
    let mut d = jiff::civil::date(year, 3, 1);
    while d.weekday() != jiff::civil::Weekday::Wednesday {
        d = d.tomorrow().unwrap();
    }
    d
}

async fn objection_deadlines_on_the_calendar(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let id = app.issue(&clerk, &license_request("ob-due")).await["license_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Next year, which the shipped calendar does not hold yet.
    let year = app.library.today().year() + 1;
    let wednesday = first_wednesday_of_march(year);
    let at = |d: jiff::civil::Date, h: i8| {
        d.at(h, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
            .unwrap()
            .timestamp()
    };
    let move_to = |t: jiff::Timestamp| {
        let by = t.duration_since(app.library.now());
        app.clock
            .advance(std::time::Duration::from_secs(by.as_secs().max(0) as u64));
    };
    move_to(at(wednesday, 10));
    let sub = ok(
        post(&app, None, "/api/v1/objections", objection(&id)).await,
        StatusCode::CREATED,
    )
    .await;
    let ticket = sub["ticket"].as_str().unwrap().to_owned();
    // Counted on weekdays alone, and said to be provisional: Thursday, Friday.
    assert_eq!(
        sub["due_on"],
        wednesday
            .checked_add(jiff::ToSpan::days(2))
            .unwrap()
            .to_string()
    );
    assert_eq!(sub["provisional"], true);

    // The year's arrangement arrives: Thursday and Friday holidays,
    // Saturday a make-up workday. Two working days: Saturday, Monday.
    let day = |n: i64| wednesday.checked_add(jiff::ToSpan::days(n)).unwrap();
    let calendar = format!(
        "{y}-01-01\tholiday\t元旦\n{y}-05-01\tholiday\t劳动节\n{y}-10-01\tholiday\t国庆节\n{y}-10-02\tholiday\t国庆节\n{y}-10-03\tholiday\t国庆节\n{}\tholiday\t测试假日\n{}\tholiday\t测试假日\n{}\tworkday\t调休上班\n",
        day(1),
        day(2),
        day(3),
        y = year
    );
    app.library
        .import_calendar(&Actor::cli(), &calendar)
        .await
        .unwrap();
    let handler = app.token("150102", Role::ObjectionHandler).await;
    let base = format!("/api/v1/objections/{ticket}");
    let view = ok(app.get_as(&base, &handler).await, StatusCode::OK).await;
    assert_eq!(view["due_on"], day(5).to_string(), "{view}");
    assert_eq!(view["provisional"], false);

    // On the due day, late in the evening: not yet overdue.
    move_to(at(day(5), 22));
    assert_eq!(
        ok(app.get_as(&base, &handler).await, StatusCode::OK).await["overdue"],
        false
    );
    let overdue = ok(
        app.get_as("/api/v1/objections?overdue=true", &handler)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(overdue.as_array().unwrap().is_empty());
    // The next working day it is, in the API, the metrics and to the org's clerks.
    move_to(at(day(6), 9));
    let overdue = ok(
        app.get_as("/api/v1/objections?overdue=true", &clerk).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(overdue.as_array().unwrap().len(), 1, "{overdue}");
    assert_eq!(overdue[0]["ticket"], ticket.as_str());
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("zhengzhao_objections_overdue 1"),
        "{metrics}"
    );

    // Accepted late: the answer is due fifteen working days after acceptance.
    let accepted = ok(
        post(&app, Some(&handler), &format!("{base}/accept"), json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(accepted["overdue"], false);
    let due: jiff::civil::Date = accepted["due_on"].as_str().unwrap().parse().unwrap();
    assert!(due > day(6), "{accepted}");
}

both_backends!(objection_deadlines, objection_deadlines_on_the_calendar);

/// A browser's multipart form: text fields, then files as
/// (field, file name, bytes).
fn multipart(text: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "zhengzhao-test-boundary-7d1f";
    let mut body = Vec::new();
    for (k, v) in text {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (k, name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The public objection page takes its evidence as files: a text file
/// named .png is refused at the file input (the error summary links to it)
/// and nothing is stored; an empty file input is no attachment; a PNG and
/// a PDF are kept with the objection, served to its handler.
async fn objection_page_takes_attachments(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("att-1")).await;
    let id = issued["license_id"].as_str().unwrap();
    let text = [
        ("license_id", id),
        ("kind", "accuracy"),
        ("fields", "domicile"),
        ("statement", "住所已迁至新城区某某路99号，执照上仍是旧址。"),
        ("role", "holder"),
        ("name", "李四"),
        ("phone", "13800000000"),
    ];
    let send = |files: &[(&str, &str, &[u8])]| {
        let (content_type, body) = multipart(&text, files);
        app.client
            .post(app.url("/objections/new"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let r = send(&[("attachments", "门牌.png", b"just text".as_slice())])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("<a href=\"#attachments\">"), "{html}");
    assert_eq!(objections_stored(&app).await, 0);

    let r = send(&[("attachments", "", b"".as_slice())]).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "an empty file input");
    assert_eq!(
        app.raw_count("SELECT count(*) FROM objection_attachments")
            .await,
        0
    );
    let r = send(&[
        ("attachments", "门牌.png", PNG),
        ("attachments", "租赁合同.pdf", PDF),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = r.text().await.unwrap();
    let ticket = html
        .split("id=\"ticket\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert_eq!(
        app.raw_count("SELECT count(*) FROM objection_attachments")
            .await,
        2
    );
    let handler = app.token("150102", Role::ObjectionHandler).await;
    let r = app
        .get_as(
            &format!("/api/v1/objections/{ticket}/attachments/0"),
            &handler,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "ticket {ticket}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
}
both_backends!(objection_page_attachments, objection_page_takes_attachments);

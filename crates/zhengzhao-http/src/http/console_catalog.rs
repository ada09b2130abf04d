//! The console's catalog editor (Art. 6), for the region's catalog and
//! region admins: the catalog's types, a new type, and the next version of
//! one, with its face fields as rows of a form. The form becomes the API's
//! JSON (`LicenseTypeDraft`), parsed by the API's parser and given to the
//! same use cases (`create_license_type`, `update_license_type`), so the
//! rules and messages are the catalog API's.

use crate::error::ApiResult;
use crate::http::pages::render;
use crate::http::portal::{Form, FormError, form_errors};
use crate::http::staff_pages::{StaffForm, StaffPage, csrf_of};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};
use zhengzhao_core::{Error, Library, Principal};
use zhengzhao_domain::catalog::{
    FaceField, FieldType, HolderPart, HolderType, LicenseTypeDraft, PublicAttribute, StandardLevel,
    TEMPLATES,
};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::org::OrgLevel;

/// Empty field rows offered below the filled ones, and the most rows a
/// form may carry (the catalog allows 100 fields).
const SPARE_ROWS: usize = 3;
const MAX_ROWS: usize = 110;

const HOLDER_TYPES: [HolderType; 4] = [
    HolderType::NaturalPerson,
    HolderType::LegalPerson,
    HolderType::UnincorporatedOrg,
    HolderType::IndividualBusiness,
];
const LEVELS: [OrgLevel; 3] = [OrgLevel::Region, OrgLevel::League, OrgLevel::Banner];
const PUBLIC: [PublicAttribute; 3] = [
    PublicAttribute::Public,
    PublicAttribute::Conditional,
    PublicAttribute::NotPublic,
];
const STANDARDS: [StandardLevel; 4] = [
    StandardLevel::National,
    StandardLevel::Region,
    StandardLevel::League,
    StandardLevel::Banner,
];

/// An option of a select, radio or checkbox: (value, label, chosen).
pub type Choice = (String, &'static str, bool);

/// One face field row of the form.
#[derive(Default)]
pub struct FieldRow {
    pub i: usize,
    pub name: String,
    pub label: String,
    pub types: Vec<Choice>,
    pub required: bool,
    pub max_length: String,
    pub values: String,
    pub personal: bool,
    pub confidential: bool,
    pub same_as_holder: Vec<Choice>,
}

#[derive(Template, Default)]
#[template(path = "console_catalog.html")]
pub struct CatalogPage {
    pub errors: Vec<FormError>,
    pub csrf_token: String,
    /// A type was just saved.
    pub saved: bool,
    /// (code, name, version, next version, public attribute) of each type.
    pub types: Vec<(String, String, u32, u32, &'static str)>,
    /// The form: none on the list page.
    pub editing: bool,
    /// The type's code when making its next version; empty for a new type.
    pub existing: String,
    pub version: u32,
    pub next_version: u32,
    pub code: String,
    pub name: String,
    pub authority_name: String,
    pub authority_code: String,
    pub authority_placeholder: bool,
    pub levels: Vec<Choice>,
    pub issuing_orgs: String,
    pub holder_types: Vec<Choice>,
    pub aggregation_start: String,
    pub public_attribute: Vec<Choice>,
    pub standard_level: Vec<Choice>,
    pub templates: Vec<Choice>,
    pub license_number_field: String,
    pub validity: String,
    pub one_current: bool,
    pub rows: Vec<FieldRow>,
    pub row_count: usize,
}

fn serde_name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn choices<T: Copy + serde::Serialize>(
    all: &[T],
    label: impl Fn(T) -> &'static str,
    chosen: impl Fn(&str) -> bool,
) -> Vec<Choice> {
    all.iter()
        .map(|&v| {
            let value = serde_name(v);
            let on = chosen(&value);
            (value, label(v), on)
        })
        .collect()
}

fn field_row(i: usize, f: Option<&FaceField>) -> FieldRow {
    let ty = f.map(|f| f.field_type.as_str()).unwrap_or("text");
    let same = f
        .and_then(|f| f.same_as_holder)
        .map(HolderPart::as_str)
        .unwrap_or("");
    FieldRow {
        i,
        name: f.map(|f| f.name.clone()).unwrap_or_default(),
        label: f.map(|f| f.label.clone()).unwrap_or_default(),
        types: FieldType::ALL
            .iter()
            .map(|t| (t.as_str().to_owned(), t.label_zh(), t.as_str() == ty))
            .collect(),
        required: f.is_some_and(|f| f.required),
        max_length: f
            .and_then(|f| f.max_length)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        values: f.map(|f| f.values.join("\n")).unwrap_or_default(),
        personal: f.is_some_and(|f| f.personal),
        confidential: f.is_some_and(|f| f.confidential),
        same_as_holder: [
            ("", "否"),
            (HolderPart::Name.as_str(), HolderPart::Name.label_zh()),
            (HolderPart::Id.as_str(), HolderPart::Id.label_zh()),
        ]
        .iter()
        .map(|&(v, l)| (v.to_owned(), l, v == same))
        .collect(),
    }
}

/// The form filled from a draft (an existing version, or what was sent).
fn fill(page: &mut CatalogPage, d: &LicenseTypeDraft, spare: usize) {
    page.code = d.code.to_string();
    page.name = d.name.clone();
    page.authority_name = d.defining_authority.name.clone();
    page.authority_code = d.defining_authority.credit_code.to_string();
    page.authority_placeholder = d.defining_authority.placeholder;
    page.issuing_orgs = d
        .issuing_orgs
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("、");
    page.aggregation_start = d.aggregation_start.to_string();
    page.license_number_field = d.license_number_field.clone().unwrap_or_default();
    page.validity = d.validity.clone().unwrap_or_default();
    page.one_current = d.one_current_license_per_holder;
    let levels: Vec<String> = d.issuing_levels.iter().map(|l| serde_name(*l)).collect();
    let holders: Vec<String> = d.holder_types.iter().map(|h| serde_name(*h)).collect();
    options(
        page,
        &levels,
        &holders,
        &serde_name(d.public_attribute),
        &serde_name(d.standard_level),
        &d.template,
    );
    page.rows = d
        .face_fields
        .iter()
        .enumerate()
        .map(|(i, f)| field_row(i, Some(f)))
        .collect();
    let n = page.rows.len();
    page.rows.extend((n..n + spare).map(|i| field_row(i, None)));
    page.row_count = page.rows.len();
}

fn options(
    page: &mut CatalogPage,
    levels: &[String],
    holders: &[String],
    public: &str,
    standard: &str,
    template: &str,
) {
    page.levels = choices(&LEVELS, OrgLevel::label_zh, |v| {
        levels.iter().any(|l| l == v)
    });
    page.holder_types = choices(&HOLDER_TYPES, HolderType::label_zh, |v| {
        holders.iter().any(|h| h == v)
    });
    page.public_attribute = choices(&PUBLIC, PublicAttribute::label_zh, |v| v == public);
    page.standard_level = choices(&STANDARDS, StandardLevel::label_zh, |v| v == standard);
    page.templates = TEMPLATES
        .iter()
        .map(|&t| {
            let label = if t == "a4-landscape" {
                "A4 横版"
            } else {
                "A4 竖版"
            };
            (t.to_owned(), label, t == template)
        })
        .collect();
}

/// The list of the catalog's types, for the editor's first page.
async fn list_types(s: &AppState) -> ApiResult<Vec<(String, String, u32, u32, &'static str)>> {
    Ok(s.library
        .catalog(true)
        .await?
        .into_iter()
        .map(|v| {
            let d = v.spec.draft();
            (
                d.code.to_string(),
                d.name.clone(),
                v.version,
                v.version.saturating_add(1),
                d.public_attribute.label_zh(),
            )
        })
        .collect())
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    pub saved: Option<String>,
}

/// `GET /console/catalog`
pub async fn list(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> ApiResult<Response> {
    Library::authorize_catalog_edit(&c)?;
    render(&CatalogPage {
        csrf_token: csrf_of(&c),
        saved: q.saved.is_some(),
        types: list_types(&s).await?,
        ..CatalogPage::default()
    })
}

/// `GET /console/catalog/new`
pub async fn new_form(StaffPage(c): StaffPage) -> ApiResult<Response> {
    Library::authorize_catalog_edit(&c)?;
    let mut page = CatalogPage {
        csrf_token: csrf_of(&c),
        editing: true,
        ..CatalogPage::default()
    };
    options(&mut page, &[], &[], "public", "region", "a4-portrait");
    page.rows = (0..SPARE_ROWS + 2).map(|i| field_row(i, None)).collect();
    page.row_count = page.rows.len();
    render(&page)
}

/// `GET /console/catalog/{code}`: the form for the type's next version.
pub async fn edit_form(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    Library::authorize_catalog_edit(&c)?;
    let code = LicenseTypeCode::parse(&code)
        .map_err(|_| Error::NotFound(format!("license type {code}")))?;
    let v = s.library.license_type(&code, None, true).await?;
    let mut page = CatalogPage {
        csrf_token: csrf_of(&c),
        editing: true,
        existing: code.to_string(),
        version: v.version,
        next_version: v.version.saturating_add(1),
        ..CatalogPage::default()
    };
    fill(&mut page, v.spec.draft(), SPARE_ROWS);
    render(&page)
}

/// An enum's values, one per line (a value may hold spaces, commas or 、).
fn lines_of(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Org codes typed in one box: split on commas, 、 and spaces.
fn list_of(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c == '，' || c == '、' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form as the API's JSON body, and for each of its face fields the
/// row it came from (blank rows are left out).
fn draft_json(form: &Form, existing: &str) -> (Value, Vec<usize>) {
    let get = |k: &str| form.get(k);
    let on = |k: &str| form.get(k) == "true";
    let rows = get("row_count").parse::<usize>().unwrap_or(0).min(MAX_ROWS);
    let (mut fields, mut from) = (Vec::new(), Vec::new());
    for i in 0..rows {
        let at = |k: &str| get(&format!("f{i}.{k}"));
        if at("name").is_empty() && at("label").is_empty() {
            continue;
        }
        let mut f = Map::new();
        f.insert("name".into(), json!(at("name")));
        f.insert("label".into(), json!(at("label")));
        f.insert("type".into(), json!(at("type")));
        f.insert("required".into(), json!(at("required") == "true"));
        f.insert("personal".into(), json!(at("personal") == "true"));
        f.insert("confidential".into(), json!(at("confidential") == "true"));
        let max = at("max_length");
        if !max.is_empty() {
            f.insert(
                "max_length".into(),
                max.parse::<u64>().map_or(json!(max), |n| json!(n)),
            );
        }
        let values = lines_of(&at("values"));
        if !values.is_empty() {
            f.insert("values".into(), json!(values));
        }
        let same = at("same_as_holder");
        if !same.is_empty() {
            f.insert("same_as_holder".into(), json!(same));
        }
        fields.push(Value::Object(f));
        from.push(i);
    }
    let optional = |k: &str| {
        let v = get(k);
        if v.is_empty() { Value::Null } else { json!(v) }
    };
    let mut d = json!({
        "code": if existing.is_empty() { get("code") } else { existing.to_owned() },
        "name": get("name"),
        "defining_authority": {"name": get("authority_name"), "credit_code": get("authority_code"),
                               "placeholder": on("authority_placeholder")},
        "issuing_levels": form.all("issuing_levels"),
        "issuing_orgs": list_of(&get("issuing_orgs")),
        "holder_types": form.all("holder_types"),
        "aggregation_start": get("aggregation_start"),
        "public_attribute": get("public_attribute"),
        "standard_level": get("standard_level"),
        "template": get("template"),
        "one_current_license_per_holder": on("one_current"),
        "face_fields": fields,
    });
    for k in ["license_number_field", "validity"] {
        if let (Some(m), v @ Value::String(_)) = (d.as_object_mut(), optional(k)) {
            m.insert(k.into(), v);
        }
    }
    (d, from)
}

/// The input an API field path names, e.g. `face_fields/2/name` → `f5-name`.
fn input_of(path: &str, from: &[usize]) -> String {
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("face_fields"), Some(k), rest) => {
            let row = k.parse::<usize>().ok().and_then(|k| from.get(k).copied());
            match (row, rest) {
                (Some(i), Some(field @ ("name" | "label" | "type" | "max_length" | "values"))) => {
                    format!("f{i}-{field}")
                }
                (Some(i), Some("same_as_holder")) => format!("f{i}-same"),
                (Some(i), _) => format!("f{i}-name"),
                _ => "f0-name".into(),
            }
        }
        (Some("defining_authority"), Some("name"), _) => "authority_name".into(),
        (Some("defining_authority"), _, _) => "authority_code".into(),
        (
            Some(
                f @ ("code"
                | "name"
                | "issuing_levels"
                | "issuing_orgs"
                | "holder_types"
                | "aggregation_start"
                | "public_attribute"
                | "standard_level"
                | "template"
                | "license_number_field"
                | "validity"),
            ),
            _,
            _,
        ) => f.into(),
        _ => "name".into(),
    }
}

/// `POST /console/catalog` (a new type) and `POST /console/catalog/{code}`
/// (its next version); `more` re-shows the form with more empty rows.
async fn save(s: &AppState, c: Principal, form: Form, existing: String) -> ApiResult<Response> {
    Library::authorize_catalog_edit(&c)?;
    let (draft, from) = draft_json(&form, &existing);
    // The version the form was opened on: saving over a newer one is refused.
    let based_on: u32 = form.get("version").parse().unwrap_or(0);
    let more = !form.get("more").is_empty();
    let outcome = if more {
        Ok(())
    } else {
        match crate::http::json::parse::<LicenseTypeDraft>(draft.to_string().as_bytes()) {
            Ok(d) if existing.is_empty() => s.library.create_license_type(&c, d).await.map(|_| ()),
            Ok(d) => match LicenseTypeCode::parse(&existing) {
                Ok(code) => s
                    .library
                    .update_license_type(&c, &code, d, Some(based_on))
                    .await
                    .map(|_| ()),
                Err(_) => Err(Error::NotFound(format!("license type {existing}"))),
            },
            Err(e) => Err(e),
        }
    };
    let (errors, status) = match outcome {
        Ok(()) if !more => {
            return Ok(Redirect::to("/console/catalog?saved=1").into_response());
        }
        Ok(()) => (Vec::new(), StatusCode::OK),
        Err(Error::Conflict(msg)) => (
            vec![FormError {
                field: "code".into(),
                message: msg,
            }],
            StatusCode::CONFLICT,
        ),
        Err(e) => match form_errors(&e, |f| input_of(f, &from)) {
            Some(errors) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
            None => return Err(e.into()),
        },
    };
    // Back to the form as it was sent (rows as typed, plus spares).
    let get = |k: &str| form.get(k);
    let rows = get("row_count").parse::<usize>().unwrap_or(0).min(MAX_ROWS);
    let mut page = CatalogPage {
        errors,
        csrf_token: csrf_of(&c),
        editing: true,
        version: based_on,
        next_version: based_on.saturating_add(1),
        code: if existing.is_empty() {
            get("code")
        } else {
            existing.clone()
        },
        existing,
        name: get("name"),
        authority_name: get("authority_name"),
        authority_code: get("authority_code"),
        authority_placeholder: get("authority_placeholder") == "true",
        issuing_orgs: get("issuing_orgs"),
        aggregation_start: get("aggregation_start"),
        license_number_field: get("license_number_field"),
        validity: get("validity"),
        one_current: get("one_current") == "true",
        ..CatalogPage::default()
    };
    options(
        &mut page,
        &form.all("issuing_levels"),
        &form.all("holder_types"),
        &get("public_attribute"),
        &get("standard_level"),
        &get("template"),
    );
    let extra = if more { SPARE_ROWS } else { 0 };
    page.rows = (0..(rows + extra).min(MAX_ROWS))
        .map(|i| {
            let at = |k: &str| get(&format!("f{i}.{k}"));
            let mut r = field_row(i, None);
            r.name = at("name");
            r.label = at("label");
            let ty = at("type");
            for t in &mut r.types {
                t.2 = t.0 == ty;
            }
            r.required = at("required") == "true";
            r.max_length = at("max_length");
            r.values = at("values");
            r.personal = at("personal") == "true";
            r.confidential = at("confidential") == "true";
            let same = at("same_as_holder");
            for o in &mut r.same_as_holder {
                o.2 = o.0 == same;
            }
            r
        })
        .collect();
    page.row_count = page.rows.len();
    let mut resp = render(&page)?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// `POST /console/catalog`
pub async fn create(
    State(s): State<AppState>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    save(&s, c, form, String::new()).await
}

/// `POST /console/catalog/{code}`
pub async fn update(
    State(s): State<AppState>,
    Path(code): Path<String>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    save(&s, c, form, code).await
}

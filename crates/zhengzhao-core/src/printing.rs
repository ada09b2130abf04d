//! The printable license (Art. 18: paper service stays available): the view
//! a renderer lays out, built from a license version and its catalog version,
//! with the license's state on its face when it is no longer in force.

use super::licenses::LicenseView;
use super::{Library, china_tz};
use crate::{Error, Result};
use jiff::civil::Date;
use zhengzhao_domain::catalog::FieldType;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_render::{Layout, LicenseView as PrintView};

fn chinese_date(d: Date) -> String {
    format!("{}年{:02}月{:02}日", d.year(), d.month(), d.day())
}

/// What the page says when `v` is no longer in force: 已注销 (revoked, with
/// the revocation date) or 已被新版本替代 (an update replaced it, with the
/// date of the version that did). A revoked license's older versions say
/// 已注销: that is what holds for all of them now.
fn state_notice(v: &LicenseView) -> Option<String> {
    let date = |t: jiff::Timestamp| chinese_date(t.to_zoned(china_tz()).date());
    match v.status {
        "revoked" => Some(match &v.revocation {
            Some(r) => format!("已注销（注销日期：{}）", date(r.at)),
            None => "已注销".to_owned(),
        }),
        "superseded" => Some(
            match (v.versions.iter().filter(|s| s.version > v.version)).min_by_key(|s| s.version) {
                Some(next) => format!(
                    "已被新版本替代（替代日期：{}，现行为第{}版）",
                    date(next.issued_at),
                    v.current_version
                ),
                None => "已被新版本替代".to_owned(),
            },
        ),
        _ => None,
    }
}

impl Library {
    /// What the page shows for `v`: every face field in catalog order, with
    /// dates and org references written out for people.
    pub async fn print_view(&self, v: &LicenseView) -> Result<PrintView> {
        let t = self
            .store
            .license_type(&v.type_code, Some(v.type_version))
            .await?
            .ok_or_else(|| {
                Error::Internal(format!(
                    "catalog version {} of {} missing",
                    v.type_version, v.type_code
                ))
            })?;
        let d = t.spec.draft();
        let mut fields = Vec::new();
        for f in &d.face_fields {
            let Some(raw) = v.face.get(&f.name).and_then(|x| x.as_str()) else {
                continue;
            };
            let shown = match f.field_type {
                FieldType::Date => raw
                    .parse::<Date>()
                    .map(chinese_date)
                    .unwrap_or_else(|_| raw.to_owned()),
                FieldType::Money => format!("{raw}元"),
                FieldType::OrgReference => match OrgCode::parse(raw) {
                    Ok(code) => self
                        .store
                        .org(&code)
                        .await?
                        .map(|o| o.name)
                        .unwrap_or_else(|| raw.to_owned()),
                    Err(_) => raw.to_owned(),
                },
                _ => raw.to_owned(),
            };
            fields.push((f.label.clone(), shown));
        }
        let issued = v.issued_at.to_zoned(china_tz()).date();
        Ok(PrintView {
            title: d.name.clone(),
            fields,
            license_id: v.license_id.to_string(),
            license_number: v.license_number.clone(),
            holder_name: v.holder.name.clone(),
            issuer_name: v.issuer.name.clone(),
            issue_date: chinese_date(issued),
            validity: format!(
                "{}至{}",
                chinese_date(v.valid_from),
                v.valid_until
                    .map_or_else(|| "长期".to_owned(), chinese_date)
            ),
            verify_url: self.urls.verify_page(&v.license_id.to_string()),
            layout: Layout::from_template(&d.template).unwrap_or(Layout::A4Portrait),
            attachment: None,
            notices: state_notice(v).into_iter().collect(),
            watermark: Vec::new(),
        })
    }
}

//! The sample views of the unit tests, the integration tests and the bench
//! example (which include this file with `#[path]`).

use crate::{Layout, LicenseView};

pub(crate) const ID: &str =
    "1.2.156.3005.2.11150000MB1957283X001.11150102MA0N4JXK2X.2026000123.001.K";

/// A 营业执照 with ten fields; 经营范围 has `scope_len` characters.
pub(crate) fn business_license(scope_len: usize, layout: Layout) -> LicenseView {
    let sentence = "许可项目：第二类增值电信业务；互联网信息服务；货物进出口。（依法须经批准的项目，经相关部门批准后方可开展经营活动）一般项目：技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；软件开发；";
    let scope: String = sentence.chars().cycle().take(scope_len).collect();
    let fields = [
        ("统一社会信用代码", "91150102MA0N4JXK2X"),
        ("名称", "呼和浩特市青城数智科技有限公司"),
        ("类型", "有限责任公司（自然人投资或控股）"),
        ("法定代表人", "乌日娜"),
        ("注册资本", "壹仟万元整"),
        ("成立日期", "2024年01月15日"),
        ("营业期限", "2024年01月15日至长期"),
        (
            "住所",
            "内蒙古自治区呼和浩特市新城区海拉尔东街88号鄂尔多斯大厦12层1201室",
        ),
        ("经营范围", scope.as_str()),
        ("登记机关", "呼和浩特市新城区市场监督管理局"),
    ];
    LicenseView {
        title: "营业执照".to_owned(),
        fields: fields
            .iter()
            .map(|(l, v)| ((*l).to_owned(), (*v).to_owned()))
            .collect(),
        license_id: ID.to_owned(),
        license_number: Some("150102000123456".to_owned()),
        holder_name: "呼和浩特市青城数智科技有限公司".to_owned(),
        issuer_name: "呼和浩特市新城区市场监督管理局".to_owned(),
        issue_date: "2026年11月29日".to_owned(),
        validity: "2026年11月29日至长期".to_owned(),
        verify_url: format!("https://zhengzhao.amr.nmg.gov.cn/verify/{ID}"),
        layout,
        attachment: None,
        notices: Vec::new(),
        watermark: Vec::new(),
    }
}

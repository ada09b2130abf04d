//! Every error the command line reports, in Chinese and English, printed in
//! one place (`main`): one or more lines `zhengzhao: 中文 / English`.

use std::fmt;
use zhengzhao_core::Error;
use zhengzhao_http::app::StartError;
use zhengzhao_store::StoreError;

/// An error of the binary's own, worded in both languages.
#[derive(Debug)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

impl fmt::Display for Bilingual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.zh, self.en)
    }
}

impl std::error::Error for Bilingual {}

/// An error saying `zh` and `en`.
pub fn fail(zh: impl Into<String>, en: impl Into<String>) -> anyhow::Error {
    Bilingual {
        zh: zh.into(),
        en: en.into(),
    }
    .into()
}

/// `Err(fail(zh, en))`.
macro_rules! bail2 {
    ($zh:expr, $en:expr $(,)?) => {
        return Err($crate::errors::fail($zh, $en))
    };
}
pub(crate) use bail2;

fn api_lines(e: &Error) -> Vec<String> {
    let k = e.kind();
    match e {
        Error::Validation(errors) => errors
            .iter()
            .map(|f| format!("{}: {} / {}", f.field, f.message_zh, f.message))
            .collect(),
        // The operator at the command line may see internal details.
        Error::Internal(d) | Error::Unavailable(d) => {
            vec![format!("{}：{d} / {}: {d}", k.title_zh, k.title)]
        }
        _ => match e.public_detail() {
            Some(d) => vec![format!("{}：{d} / {}: {d}", k.title_zh, k.title)],
            None => vec![format!("{} / {}", k.title_zh, k.title)],
        },
    }
}

fn store_line(e: &StoreError) -> String {
    let zh = match e {
        StoreError::NotFound(_) => "未找到",
        StoreError::Conflict(_) => "与当前状态冲突",
        StoreError::CurrentLicenseExists { .. } => "持证主体已有此类型的有效证照",
        StoreError::Corrupt(_) => "存储的数据已损坏",
        StoreError::Migration(_) => "数据库结构升级失败",
        StoreError::Backend(_) => "数据库错误",
    };
    format!("{zh}：{e} / {e}")
}

/// The lines that report `e`, each in both languages: the outermost error
/// that knows its Chinese, or the whole chain under a Chinese heading.
pub fn lines(e: &anyhow::Error) -> Vec<String> {
    for cause in e.chain() {
        if let Some(b) = cause.downcast_ref::<Bilingual>() {
            return vec![b.to_string()];
        }
        if let Some(s) = cause.downcast_ref::<StartError>() {
            return vec![format!("{} / {s}", s.zh())];
        }
        if let Some(a) = cause.downcast_ref::<Error>() {
            return api_lines(a);
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return vec![store_line(s)];
        }
        if let Some(c) = cause.downcast_ref::<zhengzhao_domain::codes::CodeError>() {
            return vec![format!("代码不合法：{} / invalid code: {c}", c.zh())];
        }
        if let Some(r) = cause.downcast_ref::<zhengzhao_domain::role::UnknownRole>() {
            return vec![format!("未知角色“{}” / {r}", r.0)];
        }
    }
    vec![format!("命令未能完成 / {e:#}")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_reported_in_both_languages() {
        let e = fail("找不到", "not found");
        assert_eq!(lines(&e), ["找不到 / not found"]);
        let e: anyhow::Error = Error::field("roles", "x", "an auditor", "审计员").into();
        assert_eq!(lines(&e), ["roles: 审计员 / an auditor"]);
        let e = anyhow::Error::from(StartError::NoLibrary(
            zhengzhao_http::app::LibraryLocation::Dir("/wrong".into()),
        ));
        assert_eq!(lines(&e), ["/wrong 处没有证照库 / no library at /wrong"]);
        let e = anyhow::anyhow!("plain");
        assert!(lines(&e)[0].starts_with("命令未能完成 / plain"));
    }
}
